'use client';

import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';

import type { DayPoint } from '@/lib/history';

const COLOURS = { high: '#b42318', medium: '#dc6803', low: '#039855' } as const;

/** Findings by risk over time (stacked per day); the data is computed on the server. */
export function RiskChart({ points }: { points: DayPoint[] }) {
  return (
    <div data-testid="risk-chart">
      <BarChart width={720} height={260} data={points}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="day" />
        <YAxis allowDecimals={false} />
        <Tooltip />
        <Legend />
        {(['high', 'medium', 'low'] as const).map((risk) => (
          <Bar key={risk} dataKey={risk} stackId="risk" fill={COLOURS[risk]} isAnimationActive={false} />
        ))}
      </BarChart>
    </div>
  );
}
