"""The untrusted side: a sandboxed process that imports student code and answers calls."""
