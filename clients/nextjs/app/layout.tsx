import type { Metadata } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';

import './globals.css';

export const metadata: Metadata = {
  title: 'Compliance check',
  description: 'Streams a regulatory-compliance analysis from the FastAPI service.',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <nav className="nav">
          <Link href="/">Analyse</Link> · <Link href="/chat">Chat (useChat)</Link> · <Link href="/history">History</Link>
        </nav>
        {children}
      </body>
    </html>
  );
}
