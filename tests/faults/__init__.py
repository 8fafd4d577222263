"""Generated hostile inputs, one module per input kind, and the helpers that run them in a child process."""
