'use client';

import { type FormEvent, useEffect, useRef, useState } from 'react';

import type { AnalysisResult, ErrorInfo, Finding, RiskLevel, StartEvent } from '@contract';

import { ContractError, readAnalysisEvents, readErrorBody } from '@/lib/analysis-stream';
import { SAMPLES } from '@/lib/samples';

const DOCUMENT_TYPES = [
  { value: 'contract', label: 'Contract' },
  { value: 'privacy_policy', label: 'Privacy policy' },
  { value: 'dpa', label: 'Data processing agreement' },
  { value: 'employment', label: 'Employment contract' },
  { value: 'terms_of_service', label: 'Terms of service' },
] as const;

const MAX_CHARS = 500_000;

const RISK_LABEL: Record<RiskLevel, string> = {
  high: 'High risk',
  medium: 'Medium risk',
  low: 'Low risk',
};

type Phase = 'idle' | 'connecting' | 'streaming' | 'done' | 'failed' | 'stopped';

interface Item {
  index: number;
  finding: Finding;
}

export function Analyser() {
  const [content, setContent] = useState(SAMPLES.contract ?? '');
  const [documentType, setDocumentType] = useState<string>('contract');
  const [phase, setPhase] = useState<Phase>('idle');
  const [start, setStart] = useState<StartEvent | null>(null);
  const [analysisId, setAnalysisId] = useState<string | null>(null);
  const [items, setItems] = useState<Item[]>([]);
  const [result, setResult] = useState<AnalysisResult | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [received, setReceived] = useState(0);
  const [elapsed, setElapsed] = useState<number | null>(null);
  const controller = useRef<AbortController | null>(null);

  useEffect(() => () => controller.current?.abort(), []);

  const busy = phase === 'connecting' || phase === 'streaming';

  async function analyse(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    controller.current?.abort();
    const ctrl = new AbortController();
    controller.current = ctrl;
    const began = performance.now();
    setPhase('connecting');
    setStart(null);
    setAnalysisId(null);
    setItems([]);
    setResult(null);
    setError(null);
    setReceived(0);
    setElapsed(null);

    const finish = (next: Phase, failure: ErrorInfo | null = null) => {
      setPhase(next);
      setError(failure);
      setElapsed((performance.now() - began) / 1000);
    };

    try {
      const response = await fetch('/api/analyse/stream?format=events', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ content, document_type: documentType }),
        signal: ctrl.signal,
      });
      if (!response.ok || !response.body) {
        finish('failed', await readErrorBody(response));
        return;
      }
      setAnalysisId(response.headers.get('x-analysis-id'));
      setPhase('streaming');
      for await (const message of readAnalysisEvents(response.body)) {
        switch (message.type) {
          case 'start':
            setStart(message.data);
            setAnalysisId(message.data.analysis_id);
            break;
          case 'token':
            setReceived((n) => n + message.data.token.length);
            break;
          case 'finding':
            setItems((list) => [...list, message.data]);
            break;
          case 'result':
            setResult(message.data);
            setItems(message.data.findings.map((finding, index) => ({ index, finding })));
            finish('done');
            return;
          case 'error':
            finish('failed', message.data);
            return;
        }
      }
      finish('failed', {
        code: 'stream_truncated',
        message: 'The stream ended before the analysis finished.',
        request_id: response.headers.get('x-request-id'),
        retryable: true,
        details: null,
      });
    } catch (err) {
      if (ctrl.signal.aborted) {
        finish('stopped');
      } else if (err instanceof ContractError) {
        finish('failed', {
          code: 'contract_mismatch',
          message: err.message,
          request_id: null,
          retryable: false,
          details: null,
        });
      } else {
        finish('failed', {
          code: 'network_error',
          message: 'The connection to the server was lost.',
          details: null,
          request_id: null,
          retryable: true,
        });
      }
    }
  }

  function loadSample() {
    setContent(SAMPLES[documentType] ?? SAMPLES.contract ?? '');
  }

  const counts = countRisks(items.map((item) => item.finding));

  return (
    <div className="workspace">
      <form className="panel form" onSubmit={analyse}>
        <label className="field">
          <span>Document type</span>
          <select
            name="document_type"
            value={documentType}
            onChange={(e) => setDocumentType(e.target.value)}
            disabled={busy}
          >
            {DOCUMENT_TYPES.map((type) => (
              <option key={type.value} value={type.value}>
                {type.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field grow">
          <span>Document</span>
          <textarea
            name="content"
            value={content}
            onChange={(e) => setContent(e.target.value)}
            spellCheck={false}
            disabled={busy}
            required
          />
        </label>
        <div className="form-footer">
          <span className={content.length > MAX_CHARS ? 'count over' : 'count'}>
            {content.length.toLocaleString('en-GB')} / {MAX_CHARS.toLocaleString('en-GB')} characters
          </span>
          <div className="buttons">
            <button type="button" className="secondary" onClick={loadSample} disabled={busy}>
              Load sample
            </button>
            {busy ? (
              <button type="button" className="danger" data-testid="stop" onClick={() => controller.current?.abort()}>
                Stop
              </button>
            ) : (
              <button type="submit" className="primary" data-testid="analyse" disabled={!content.trim()}>
                Analyse
              </button>
            )}
          </div>
        </div>
      </form>

      <section className="panel results" aria-live="polite" data-testid="results" data-phase={phase} data-analysis-id={analysisId ?? ''}>
        <div className="status-row">
          <Status phase={phase} elapsed={elapsed} received={received} />
          {items.length > 0 && (
            <span className="tally">
              {(['high', 'medium', 'low'] as const)
                .filter((risk) => counts[risk] > 0)
                .map((risk) => (
                  <span key={risk} className={`dot ${risk}`}>
                    {counts[risk]} {risk}
                  </span>
                ))}
            </span>
          )}
        </div>
        {start && (
          <p className="meta">
            {start.provider} · {start.model} · analysis <code>{start.analysis_id.slice(0, 8)}</code>
          </p>
        )}

        {result && (
          <div className="summary" data-testid="summary">
            <h2>Summary</h2>
            <p>{result.summary}</p>
            {result.findings.length === 0 && <p>No compliance risks were found.</p>}
          </div>
        )}

        {phase === 'idle' && (
          <p className="placeholder">Findings will appear here as the analysis streams in.</p>
        )}

        {error && (
          <div className="error" role="alert" data-testid="error">
            <strong>{phase === 'failed' ? 'The analysis failed' : 'Error'}</strong>
            <p>{error.message}</p>
            <p className="error-meta">
              <code>{error.code}</code>
              {error.request_id && (
                <>
                  {' '}
                  · request <code>{error.request_id}</code>
                </>
              )}
              {error.retryable && ' · you can try again'}
            </p>
          </div>
        )}

        {items.length > 0 && (
          <ol className="findings" data-testid="findings">
            {items.map(({ index, finding }) => (
              <li key={index} className={`finding ${finding.risk}`} data-testid="finding" data-risk={finding.risk}>
                <div className="finding-head">
                  <span className={`badge ${finding.risk}`}>{RISK_LABEL[finding.risk]}</span>
                  <span className="confidence" title="model confidence">
                    <span className="bar">
                      <span style={{ width: `${Math.round(finding.confidence * 100)}%` }} />
                    </span>
                    {Math.round(finding.confidence * 100)}%
                  </span>
                </div>
                <blockquote>{finding.clause}</blockquote>
                <p>{finding.explanation}</p>
              </li>
            ))}
          </ol>
        )}

        {phase === 'streaming' && (
          <p className="pending">
            <span className="spinner" aria-hidden="true" /> Reading the document…
          </p>
        )}

      </section>
    </div>
  );
}

function Status({ phase, elapsed, received }: { phase: Phase; elapsed: number | null; received: number }) {
  const seconds = elapsed === null ? '' : ` in ${elapsed.toFixed(1)} s`;
  const text: Record<Phase, string> = {
    idle: 'Ready',
    connecting: 'Connecting…',
    streaming: `Streaming… ${received.toLocaleString('en-GB')} characters received`,
    done: `Finished${seconds}`,
    failed: `Failed${seconds}`,
    stopped: `Stopped${seconds}`,
  };
  return (
    <span className={`status ${phase}`} data-testid="status">
      {text[phase]}
    </span>
  );
}

function countRisks(findings: Finding[]): Record<RiskLevel, number> {
  const counts: Record<RiskLevel, number> = { high: 0, medium: 0, low: 0 };
  for (const finding of findings) counts[finding.risk] += 1;
  return counts;
}
