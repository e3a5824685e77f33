"""The per-request keys of `scope["state"]`, beside what the lifespan's `State` puts there.

Each consumer says why it reads one; these names are the only way to spell them.
"""

REQUEST_ID = "request_id"
"""Set by RequestIdMiddleware for every request; read by error answers and the logs."""

BODY_SEND = "body_send"
"""RequestIdMiddleware's own `send`: a stream sends its body chunks here, past the inner
middlewares, once the status and headers (all they look at) have gone through all of them."""

USER = "user"
"""The authenticated caller, set by the auth dependency; read by the access log."""

ANALYSIS_LOG = "analysis_log"
"""The analysis's outcome fields, set when an analysis closes; read by the access log."""
