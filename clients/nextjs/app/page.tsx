import { Analyser } from './analyser';

export default function Page() {
  return (
    <main className="page">
      <header className="masthead">
        <h1>Compliance check</h1>
        <p>
          Paste a document and pick its type. The analysis streams from the Python service through
          this Next.js server, and each finding appears as soon as the model has written it.
        </p>
      </header>
      <Analyser />
    </main>
  );
}
