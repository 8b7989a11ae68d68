/** A report input that is not a run (missing path, no manifest.json, unreadable part). The message names the path. */
export class ReportInputError extends Error {
  override name = 'ReportInputError';
}
