'use client';

import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';

import type { DayPoint } from '@/lib/history';

const RISK_COLOURS = { high: '#b42318', medium: '#dc6803', low: '#039855' } as const;
const PALETTE = [
  '#1d4ed8', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f', '#b45309', '#475569', '#0f766e',
  '#9333ea', '#c2410c', '#15803d', '#a16207', '#0369a1', '#db2777', '#65a30d', '#6b7280',
];

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
          <Bar
            key={risk}
            name={risk}
            dataKey={`risk:${risk}`}
            stackId="risk"
            fill={RISK_COLOURS[risk]}
            isAnimationActive={false}
          />
        ))}
      </BarChart>
    </div>
  );
}

/** Findings by category over time, the most frequent first (sixteen colours before one repeats). */
export function CategoryChart({ points, categories }: { points: DayPoint[]; categories: string[] }) {
  return (
    <div data-testid="category-chart">
      <BarChart width={720} height={300} data={points}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="day" />
        <YAxis allowDecimals={false} />
        <Tooltip />
        <Legend />
        {categories.map((category, index) => (
          <Bar
            key={category}
            name={category.replaceAll('_', ' ')}
            dataKey={`category:${category}`}
            stackId="category"
            fill={PALETTE[index % PALETTE.length]}
            isAnimationActive={false}
          />
        ))}
      </BarChart>
    </div>
  );
}
