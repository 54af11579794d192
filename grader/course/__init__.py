"""What the grader does with a whole class at once, after grading: similarity between submissions."""
