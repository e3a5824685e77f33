import Link from 'next/link';

import { AnalysisDetail } from '@contract';

import { serviceJson } from '@/lib/service';

export const dynamic = 'force-dynamic';

export default async function AnalysisPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const detail = await serviceJson(`/v1/analyses/${encodeURIComponent(id)}`, (value) => AnalysisDetail.parse(value));
  return (
    <main className="page">
      <p>
        <Link href="/history">← All analyses</Link>
      </p>
      <h1>
        {detail.document_type} · <span data-testid="detail-status">{detail.status}</span>
      </h1>
      <p className="muted">
        {detail.provider}/{detail.model} · {detail.content_chars} characters · first token{' '}
        {detail.ttft_ms ?? '—'} ms · {detail.duration_ms ?? '—'} ms in all · tokens {detail.prompt_tokens ?? '—'} /{' '}
        {detail.completion_tokens ?? '—'}
        {detail.error_code ? ` · ${detail.error_code}` : ''}
      </p>
      {detail.summary ? <p data-testid="detail-summary">{detail.summary}</p> : null}
      <ul className="findings">
        {(detail.findings ?? []).map((finding, index) => (
          <li key={index} data-testid="detail-finding" className={`finding ${finding.risk}`}>
            <span className="badge">{finding.risk}</span> {finding.clause}
            <p className="muted">{finding.explanation}</p>
          </li>
        ))}
      </ul>
    </main>
  );
}
