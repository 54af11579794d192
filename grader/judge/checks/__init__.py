"""The checks, by kind: a registry and `run_check`, which runs one and never lets the grader's own
failure read as the student's. Each kind builds its own model and sets hidden weights as attributes,
so that one bug costs only the checks that cover it; every comparison happens in the grader's process,
on plain data from the child; feedback names the configuration and the size of the error, never the
expected values.
"""

from __future__ import annotations

import os
import traceback

from grader.judge.checks import construction, forward, functions, gradients, interface, numerical, update
from grader.judge.checks.common import MAX_OUTPUT
from grader.judge.context import Context
from grader.report import ERROR, FAILED, PASSED, CheckResult


def run_check(ctx: Context, check: dict) -> CheckResult:
    result = CheckResult(check["name"], float(check["points"]), tags=[check["kind"]])
    faults_before = ctx.grader_faults
    try:
        KINDS[check["kind"]](ctx, check, result)
        if ctx.grader_faults > faults_before and result.status != PASSED:  # its evidence is the grader's failure
            result.status, result.fault, result.diagnoses = ERROR, "grader", []
            result.output = ("Not scored yet: the grader's own sandbox failed while running this check. This is "
                             "not a problem with your code and costs no points; it is graded again on the next run.")
            return result
        if result.status == FAILED and not result.diagnoses and check.get("hint"):
            result.output += f" {check['hint']}"
        if len(result.output) > MAX_OUTPUT:
            result.output = result.output[: MAX_OUTPUT - 3] + "..."
    except Exception as exc:  # the grader's own failure is never the student's
        result.status, result.fault, result.diagnoses = ERROR, "grader", []
        result.output = (f"Not scored yet: the grader itself failed while running this check "
                         f"({type(exc).__name__}). This is not a problem with your code and costs no points; "
                         "it is graded again on the next run.")
        if os.environ.get("GRADER_DEBUG"):  # course staff chasing a grader bug get the traceback on stderr
            traceback.print_exc()
    return result


KINDS = {  # kind (a spec check's "kind") -> the function that runs it
    "interface": interface.check_interface,
    "init_shapes": construction.check_init_shapes,
    "init_values": construction.check_init_values,
    "forward_shape": forward.check_forward_shape,
    "forward_values": forward.check_forward_values,
    "gradient": gradients.check_gradient,
    "update": update.check_update,
    "weights_io": update.check_weights_io,
    "numerical_gradient": numerical.check_numerical_gradient,
    **functions.KINDS,
}
