// report.html made to fail on demand, for the tests of what the CLI and the server do then:
//   vi.mock('../../src/report/html.ts', (importOriginal) => import('../helpers/broken-report.ts').then((m) => m.brokenHtmlModule(importOriginal)));
//   import { brokenReport } from '../helpers/broken-report.ts';
//   brokenReport.on = true;   // renderReport throws 'boom in the page' until set back
type HtmlModule = typeof import('../../src/report/html.ts');

export const brokenReport = { on: false };

export async function brokenHtmlModule(importOriginal: () => Promise<HtmlModule>): Promise<HtmlModule> {
  const real = await importOriginal();
  return {
    ...real,
    renderReport: (...args: Parameters<HtmlModule['renderReport']>) => {
      if (brokenReport.on) throw new Error('boom in the page');
      return real.renderReport(...args);
    },
  };
}
