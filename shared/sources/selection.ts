import type { OpenSourceOptions } from './index.ts';
import { parseProductIdRule } from './keys.ts';

/** The parts of the source options a selection sets. */
export type SelectionOptions = Pick<OpenSourceOptions, 'include' | 'exclude' | 'contentTypes' | 'productId' | 'records' | 'followSymlinks'>;

/**
 * How sources are read, as the command-line flags say it (text): stored with the source in the
 * collection's registry and with schedules, so a later sync or rebuild lists exactly the same.
 */
export interface SourceSelection {
  include?: string[] | undefined;
  exclude?: string[] | undefined;
  contentTypes?: string[] | undefined;
  /** A product id rule (`products-dir`, `regex:…`). */
  productId?: string | undefined;
  dataset?: string | undefined;
  /** Local folders: also follow file symlinks that lead outside the folder. */
  followSymlinks?: boolean | undefined;
}

export function selectionOptions(selection: SourceSelection = {}): SelectionOptions {
  const out: SelectionOptions = {};
  if (selection.include?.length) out.include = selection.include;
  if (selection.exclude?.length) out.exclude = selection.exclude;
  if (selection.contentTypes?.length) out.contentTypes = selection.contentTypes;
  if (selection.productId) out.productId = parseProductIdRule(selection.productId);
  if (selection.dataset) out.records = { dataset: selection.dataset };
  if (selection.followSymlinks) out.followSymlinks = true;
  return out;
}

/** The selection without empty parts (what gets stored). */
export function compactSelection(selection: SourceSelection = {}): SourceSelection {
  return Object.fromEntries(
    Object.entries(selection).filter(([, v]) => v !== undefined && v !== '' && v !== false && !(Array.isArray(v) && v.length === 0)),
  ) as SourceSelection;
}
