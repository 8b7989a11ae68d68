/**
 * datasets/ — Arrow schemas (schema.ts, the one place), the Parquet run writer/reader with its manifest, and the trainer
 * exports (verl, trl, sft, tokens).
 *
 *     const w = await RunWriter.open('runs/x', { runId: 'x', manifest: { config, seed, endpoints } });
 *     await w.add(episode); …; await w.close();
 *     const { manifest, episodes, steps } = await readRun('runs/x');
 *     await exportRun('runs/x', { format: 'tokens', out: 'x.tokens.parquet' });
 */
export {
  EPISODE_COLUMNS,
  STEP_COLUMNS,
  VERL_COLUMNS,
  TRL_BASE_COLUMNS,
  SFT_COLUMNS,
  TOKENS_COLUMNS,
  SFT_TURNS_COLUMNS,
  SFT_TURNS_SCHEMA,
  EPISODES_SCHEMA,
  STEPS_SCHEMA,
  VERL_SCHEMA,
  SFT_SCHEMA,
  TOKENS_SCHEMA,
  SCHEMA_VERSION,
  MESSAGE_TYPE,
  MESSAGES_TYPE,
  SUB_CALL_TYPE,
  SchemaError,
  trlSchema,
  trlColumns,
  trlComponentColumn,
  toArrowSchema,
  typeName,
  schemaMarkdown,
  validateRow,
  episodeRow,
  stepRows,
  tableFromRows,
  rowsFromTable,
} from './schema.ts';
export type { ColumnDef, EpisodeRow, StepRow } from './schema.ts';

export { DatasetError, encodeParquet, encodeRows, encodeRowsFast, parquetEngine, decodeParquet, readParquetRows, writeFileAtomic } from './parquet.ts';

export { MANIFEST_FILE, EPISODES_DIR, STEPS_DIR, partName, listRunParts } from './layout.ts';
export type { PartListing, PartPaths } from './layout.ts';

export {
  REDACTED,
  RECORDED_DEPENDENCIES,
  isSecretKey,
  scrubSecrets,
  scrubString,
  scrubArgv,
  redactUrl,
  collectVersions,
  gitCommit,
} from './manifest.ts';
export type {
  Manifest,
  ManifestInput,
  EndpointInfo,
  PartInfo,
  PartFileInfo,
  PartCounts,
  RunStatus,
  SessionInfo,
  Versions,
} from './manifest.ts';

export { RunWriter } from './writer.ts';
export type { RunWriterOptions, CloseOptions } from './writer.ts';

export { readRun, readManifest, finishedEpisodeIds, joinSteps } from './reader.ts';
export type { RunData, ReadRunOptions } from './reader.ts';

export {
  EXPORT_FORMATS,
  ExportError,
  MissingTokensError,
  isExportFormat,
  initialPrompt,
  groupAdvantages,
  tokenSequence,
  buildExport,
  serializeExport,
  exportRun,
} from './exports.ts';
export type { ExportFormat, ExportOptions, ExportTable, ExportResult, TokenSequence } from './exports.ts';
export { tokenRowsOf, sftTurnRows, episodeTruncated } from './exports-turns.ts';
export type { TokenRowCore } from './exports-turns.ts';

export { syntheticEpisode, syntheticEpisodes } from './synthetic.ts';
export type { SyntheticOptions } from './synthetic.ts';

export { replayRun } from './replay.ts';
export type { ReplayResult, ReplayEpisodeResult, ReplayMismatch, ReplayOptions } from './replay.ts';

export { writeRun } from './writer.ts';
