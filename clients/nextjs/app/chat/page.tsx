import { redirect } from 'next/navigation';

import { SAMPLES } from '@/lib/samples';

import { ChatAnalyser } from './chat';

export const metadata = { title: 'Compliance check · chat' };

// The chat id lives in the URL, so a reload keeps it and `useChat` resumes that chat's analysis.
export default async function ChatPage({ searchParams }: { searchParams: Promise<{ chat?: string }> }) {
  const { chat } = await searchParams;
  if (!chat || !/^[A-Za-z0-9_-]{1,64}$/.test(chat)) redirect(`/chat?chat=${crypto.randomUUID()}`);
  return <ChatAnalyser chatId={chat} sample={SAMPLES.contract} />;
}
