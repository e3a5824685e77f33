"""PostgreSQL: the start row commits without waiting for its WAL flush

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

start_analysis_within_limits() sets synchronous_commit off for its own transaction (the
autocommit statement that calls it), so the model call that waits for the start row no longer
waits for the disk or a synchronous standby. That is the durability the SQLite default already
has (WAL with synchronous=NORMAL): after a crash the database is consistent, and the commits of
the last moments may be gone. The outcome write and everything else keep the server's setting.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The body of 0002, with {commit} before it: set_config(..., true) lasts until the end of the
# calling transaction, so it applies to that transaction's commit and nothing after it.
FUNCTION = """
CREATE OR REPLACE FUNCTION start_analysis_within_limits(
    p_id uuid, p_org varchar, p_sub varchar, p_document_type varchar,
    p_content_sha256 varchar, p_content_chars integer, p_content text,
    p_provider varchar, p_model varchar, p_request_id varchar, p_created_at timestamptz,
    p_live_since timestamptz, p_window_start timestamptz,
    p_max_streaming integer, p_max_per_minute integer,
    OUT inserted boolean, OUT streaming bigint, OUT recent bigint, OUT oldest timestamptz
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    {commit}
    PERFORM pg_advisory_xact_lock(hashtextextended(p_org, 0));
    SELECT count(*) FILTER (WHERE a.status = 'streaming'),
           count(*) FILTER (WHERE a.sub = p_sub AND a.created_at > p_window_start),
           min(a.created_at) FILTER (WHERE a.sub = p_sub AND a.created_at > p_window_start)
      INTO streaming, recent, oldest
      FROM analyses AS a
     WHERE a.org = p_org AND a.created_at > least(p_live_since, p_window_start);
    inserted := streaming < p_max_streaming AND recent < p_max_per_minute;
    IF inserted THEN
        INSERT INTO analyses (id, org, sub, document_type, content_sha256, content_chars,
                              content, status, provider, model, request_id, created_at)
        VALUES (p_id, p_org, p_sub, p_document_type, p_content_sha256, p_content_chars,
                p_content, 'streaming', p_provider, p_model, p_request_id, p_created_at);
    END IF;
END
$$
"""
ASYNCHRONOUS = "PERFORM set_config('synchronous_commit', 'off', true);"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION.replace("{commit}", ASYNCHRONOUS))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION.replace("    {commit}\n", ""))
