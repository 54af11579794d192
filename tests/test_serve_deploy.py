"""docs/deploy.md's nginx configuration, as written there, in front of a real `grade serve` on 127.0.0.1
(a self-signed certificate made here with openssl): TLS, http sent to https, a body over the limit refused
by nginx, a slow request head dropped by nginx, cookies `Secure` and forms accepted from the https origin."""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from serve_support import STAFF, free_port, links, start_server, stop_server

pytestmark = pytest.mark.slow
DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"


def config_from_doc() -> str:
    text = DOC.read_text()
    block = text.split("<!-- nginx-config -->", 1)[1].split("<!-- /nginx-config -->", 1)[0]
    return block.split("```nginx\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    pytest.importorskip("httpx")
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None or shutil.which("openssl") is None:
        pytest.skip("needs nginx and openssl (apt-get install nginx; .ci/run installs it)")
    folder = tmp_path_factory.mktemp("deploy")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    service, https, http = free_port(), free_port(), free_port()
    config = (config_from_doc().replace("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;")
              .replace("listen 80;", f"listen 127.0.0.1:{http};")
              .replace("/etc/ssl/grader/", f"{folder}/").replace("127.0.0.1:8000", f"127.0.0.1:{service}")
              .replace("return 301 https://$host$request_uri;", f"return 301 https://$host:{https}$request_uri;"))
    assert config.count(f"127.0.0.1:{service}") == 2 and f"{folder}/cert.pem" in config
    for name in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / name).mkdir()
    temp = "".join(f"{name}_temp_path {folder / name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        + ("user root;\n" if os.geteuid() == 0 else "")  # workers may write the temp folders here
        + "events { worker_connections 256; }\n"
        f"http {{\n{temp}\n{config}\n}}\n")
    (folder / "roster.csv").write_text("id,name\nada,Ada Lovelace\n")
    base = f"https://127.0.0.1:{https}"
    server = start_server(folder / "data", service, "--roster", str(folder / "roster.csv"), "--base-url", base,
                          "--forwarded-allow-ips", "127.0.0.1", "--jobs", "1")  # as docs/deploy.md says
    proxy = subprocess.Popen([nginx, "-c", str(folder / "nginx.conf"), "-p", str(folder)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", https), timeout=1).close()
                break
            except OSError:
                assert proxy.poll() is None, proxy.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.2)
        yield base, http, https, links(folder / "data"), folder / "cert.pem"
    finally:
        proxy.terminate()
        proxy.wait(timeout=20)
        stop_server(server)


def client(base, cert, local_address: str = "127.0.0.1"):
    import httpx

    context = ssl.create_default_context(cafile=str(cert))
    return httpx.Client(base_url=base, verify=context, timeout=30, follow_redirects=True,
                        transport=httpx.HTTPTransport(verify=context, local_address=local_address))


def test_tls_in_front_and_cookies_are_secure(proxied):
    import httpx

    base, http, _, tokens, cert = proxied
    ada = client(base, cert)
    page = ada.get("/signin", params={"token": tokens["ada"]})
    assert page.status_code == 200 and 'id="signin"' in page.text
    assert page.headers["strict-transport-security"].startswith("max-age=")
    response = ada.post("/signin", data={"token": tokens["ada"]}, headers={"Origin": base}, follow_redirects=False)
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', ada.get("/").text).group(1)
    upload = ada.post("/submit", params={"csrf": csrf}, headers={"Origin": base},
                      files={"file": ("a.py", b"print('hello')\n")})
    assert upload.status_code == 200 and "/submissions/" in str(upload.url)
    plain = httpx.get(f"http://127.0.0.1:{http}/", follow_redirects=False, timeout=10)
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
    with pytest.raises(httpx.ConnectError):  # an unknown certificate is refused: this is TLS
        httpx.get(base + "/healthz", timeout=10)


def test_the_named_proxy_gives_the_clients_address(proxied):
    """`--forwarded-allow-ips 127.0.0.1`: the service takes the address nginx saw (the audit log's), and
    nginx replaces whatever X-Forwarded-For a client sends."""
    base, _, _, _, cert = proxied
    outsider = client(base, cert, local_address="127.0.0.3")
    outsider.post("/staff/signin", data={"token": "wrong" * 4}, headers={"Origin": base, "X-Forwarded-For": "203.0.113.9"})
    rows = client(base, cert).get("/api/audit", headers={"Authorization": f"Bearer {STAFF}"}).json()["audit"]
    assert [r["client"] for r in rows if r["action"] == "staff sign-in refused"][-1:] == ["127.0.0.3"], rows


def test_a_body_over_the_limit_is_refused_by_the_proxy(proxied):
    base, _, _, _, cert = proxied
    response = client(base, cert).post("/submit", content=b"#" * 3_200_000,
                                       headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413 and "nginx" in response.text  # refused before the service


def test_a_slow_request_head_is_dropped_by_the_proxy(proxied):
    _, _, https, _, cert = proxied
    context = ssl.create_default_context(cafile=str(cert))
    raw = socket.create_connection(("127.0.0.1", https), timeout=30)
    s = context.wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
        answer = b""
        try:  # nginx closes it (client_header_timeout); our own 30 s time box would raise TimeoutError
            while chunk := s.recv(4096):
                answer += chunk
        except (ssl.SSLError, ConnectionResetError):
            pass
        assert b"200 OK" not in answer
    finally:
        s.close()
