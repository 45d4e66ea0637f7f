"""End-to-end tests: real server processes on real stores."""
