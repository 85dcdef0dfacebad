/**
 * Tables 4 (training) and 5 (memory): placeholders until the adjoint and the
 * trainer exist. Their rows are the ones the issue asks for, so the table
 * shape is settled now and only the measurements are added later.
 */
import { NOT_YET, type SectionResult } from './table';

export function pendingSection(): SectionResult {
  return {
    data: { training: null, memory: null },
    tables: [
      {
        id: '4',
        title: 'Training',
        columns: ['loop', 'iterations / s', 'vs TF.js'],
        rows: [
          ['spiral: batch 20 windows of 10, dopri5, adjoint, Adam', NOT_YET, NOT_YET],
          ['augmented NODE, circles', NOT_YET, NOT_YET],
        ],
        notes: ['Needs the adjoint (sol.backward) and the trainer.'],
      },
      {
        id: '5',
        title: 'Memory of a backward solve',
        columns: ['steps', 'GPU bytes allocated', 'vs 100 steps'],
        rows: [
          ['100', NOT_YET, ''],
          ['10,000', NOT_YET, NOT_YET],
        ],
        notes: ['Will read runtime.counters.liveBytes at its peak during sol.backward; target: equal at 100 and 10,000 steps.'],
      },
    ],
  };
}
