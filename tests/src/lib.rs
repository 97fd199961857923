//! Helpers for the integration tests: where the stack is, from `.local/endpoints.env` or env.
