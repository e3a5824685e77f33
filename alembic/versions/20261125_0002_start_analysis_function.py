"""PostgreSQL: start_analysis_within_limits(), the limits check and insert in one round trip

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# VOLATILE: each statement takes a fresh snapshot, so the count after the lock sees every start
# of this organisation committed before it. Called in autocommit: lock, count and insert are one
# transaction, and a refused start leaves no row.
CREATE = """
CREATE FUNCTION start_analysis_within_limits(
    p_id uuid, p_org varchar, p_sub varchar, p_document_type varchar,
    p_content_sha256 varchar, p_content_chars integer, p_content text,
    p_provider varchar, p_model varchar, p_request_id varchar, p_created_at timestamptz,
    p_live_since timestamptz, p_window_start timestamptz,
    p_max_streaming integer, p_max_per_minute integer,
    OUT inserted boolean, OUT streaming bigint, OUT recent bigint, OUT oldest timestamptz
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
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

DROP = """
DROP FUNCTION start_analysis_within_limits(
    uuid, varchar, varchar, varchar, varchar, integer, text, varchar, varchar, varchar,
    timestamptz, timestamptz, timestamptz, integer, integer
)
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP)
