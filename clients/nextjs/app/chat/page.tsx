import { SAMPLES } from '@/lib/samples';

import { ChatAnalyser } from './chat';

export const metadata = { title: 'Compliance check · chat' };

export default function ChatPage() {
  return <ChatAnalyser sample={SAMPLES.contract} />;
}
