'use client';

import { useChat } from '@ai-sdk/react';
import { DefaultChatTransport } from 'ai';
import { type FormEvent, useState } from 'react';
import ReactMarkdown from 'react-markdown';

import { type AnalysisMessage, dataPartSchemas, messageMetadataSchema } from '@/lib/chat-message';

// `useChat` as it comes: DefaultChatTransport posts its own body ({id, messages, trigger, …}
// plus `document_type` from `body`) to /api/chat, which hands it to the service unchanged.
// `resume: true`: on load the hook asks GET /api/chat/{id}/stream for this chat's analysis, so a
// reload mid-analysis picks the same analysis up again (replayed from its start, then live).
const transport = new DefaultChatTransport<AnalysisMessage>({ api: '/api/chat' });

export function ChatAnalyser({ chatId, sample }: { chatId: string; sample: string }) {
  const [text, setText] = useState(sample);
  const { messages, sendMessage, status, stop, error } = useChat<AnalysisMessage>({
    id: chatId,
    resume: true,
    transport,
    dataPartSchemas,
    messageMetadataSchema,
  });
  const answer = [...messages].reverse().find((message) => message.role === 'assistant');
  const findings = answer?.parts.flatMap((part) => (part.type === 'data-finding' ? [part.data] : [])) ?? [];
  const report = answer?.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('') ?? '';
  const analysis = answer?.parts.find((part) => part.type === 'data-analysis');
  const busy = status === 'submitted' || status === 'streaming';
  const phase = busy ? 'streaming' : error ? 'failed' : analysis ? 'done' : answer ? 'stopped' : 'idle';

  function submit(event: FormEvent) {
    event.preventDefault();
    void sendMessage({ text }, { body: { document_type: 'contract' } });
  }

  return (
    <main className="page">
      <h1>Compliance check (useChat)</h1>
      <form onSubmit={submit} className="panel">
        <textarea value={text} onChange={(event) => setText(event.target.value)} rows={10} />
        <div className="actions">
          <button type="submit" data-testid="analyse" disabled={busy}>
            Analyse
          </button>
          <button type="button" data-testid="stop" onClick={() => void stop()} disabled={!busy}>
            Stop
          </button>
        </div>
      </form>
      <section
        className="panel"
        data-testid="chat-results"
        data-phase={phase}
        data-analysis-id={answer?.metadata?.analysis_id ?? answer?.id ?? ''}
      >
        <ul className="findings">
          {findings.map(({ index, finding }) => (
            <li key={index} data-testid="chat-finding" data-risk={finding.risk} className={`finding ${finding.risk}`}>
              <span className="badge">{finding.risk}</span> {Math.round(finding.confidence * 100)}% · {finding.clause}
            </li>
          ))}
        </ul>
        <article data-testid="report" className="report">
          <ReactMarkdown>{report}</ReactMarkdown>
        </article>
        {answer?.metadata ? (
          <p data-testid="usage" className="muted">
            First token after {answer.metadata.ttft_ms ?? '?'} ms · {answer.metadata.prompt_tokens ?? '?'} prompt /{' '}
            {answer.metadata.completion_tokens ?? '?'} completion tokens
          </p>
        ) : null}
        {error ? (
          <p data-testid="error" className="error">
            {error.message}
          </p>
        ) : null}
      </section>
    </main>
  );
}
