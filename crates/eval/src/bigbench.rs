//! BIG-bench multiple-choice tasks read from their `task.json`.
