/**
 * The MLE subcommands of the CLI: score a file with an XGBoost model, and evaluate a ranking model's NDCG@k,
 * with exactly the numbers xgboost itself prints for the same model and file.
 *
 *   score --model FILE --input FILE --format csv|libsvm [--output margin|prediction]
 *   eval  --model FILE --input FILE --format libsvm [--group FILE] [--k 10] [--minus]
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadXgboostModel, type XgbModel } from '../rankers/xgboost/model';
import { predict } from '../rankers/xgboost/predict';
import { DataFormatError, groupsFromQids, readCsvMatrix, readGroups, readLibsvmMatrix, type DataMatrix } from './formats';
import { ndcg } from './ndcg';

export const MLE_USAGE = `  score --model FILE --input FILE --format csv|libsvm [--output margin|prediction]
        one number per line: the model's margin (default) or prediction (probability for logistic objectives).
        CSV: a header of feature names, mapped by name to the model's feature_names (by position when it has none).
  eval --model FILE --input FILE --format libsvm [--group FILE] [--k 10] [--minus]
        NDCG@k over query groups, as xgboost's ndcg@k metric (groups from --group, else from qid: in the file).
`;

/** Bad arguments or an input the command cannot use; the CLI prints the message (and the usage) and exits 2. */
export class MleUsageError extends Error {
  override readonly name = 'MleUsageError';
}

type ArgValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

function parse(command: string, argv: string[], options: NonNullable<ParseArgsConfig['options']>): ArgValues {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as ArgValues;
  } catch (err) {
    throw new MleUsageError(`${command}: ${(err as Error).message}`);
  }
}

function required(command: string, values: ArgValues, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new MleUsageError(`${command} needs --${name}`);
  return v;
}

/** Reads the input in the model's column order: by name when the model has feature_names, else by position. */
async function readRows(command: string, model: XgbModel, file: string, format: string): Promise<DataMatrix> {
  if (format === 'libsvm') {
    const m = await readLibsvmMatrix(file, { minWidth: model.numFeature });
    if (m.width > model.numFeature) {
      throw new MleUsageError(`${command}: ${file} uses column ${m.width - 1} but the model has ${model.numFeature} columns (num_feature)`);
    }
    return m;
  }
  if (format !== 'csv') throw new MleUsageError(`${command}: --format must be csv or libsvm, got "${format}"`);
  const csv = await readCsvMatrix(file);
  if (!model.featureNames) {
    if (csv.width !== model.numFeature) {
      throw new MleUsageError(`${command}: ${file} has ${csv.width} columns but the model (no feature_names: columns by position) has ${model.numFeature}`);
    }
    return csv;
  }
  const names = model.featureNames;
  const at = names.map((n) => csv.features.indexOf(n));
  const absent = names.filter((_, i) => at[i]! < 0);
  if (absent.length) throw new MleUsageError(`${command}: ${file} has no column for the model's feature(s) ${absent.join(', ')}`);
  const values = new Float64Array(csv.rows * names.length);
  for (let r = 0; r < csv.rows; r++) {
    for (let c = 0; c < names.length; c++) values[r * names.length + c] = csv.values[r * csv.width + at[c]!]!;
  }
  return { features: names, rows: csv.rows, width: names.length, values, labels: csv.labels, qids: null };
}

/** `score`: writes one number per input row, in row order. */
export async function scoreCommand(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const values = parse('score', argv, {
    model: { type: 'string' },
    input: { type: 'string' },
    format: { type: 'string' },
    output: { type: 'string', default: 'margin' },
  });
  const modelFile = required('score', values, 'model');
  const input = required('score', values, 'input');
  const format = required('score', values, 'format');
  const output = values.output;
  if (output !== 'margin' && output !== 'prediction') throw new MleUsageError(`score: --output must be margin or prediction, got "${String(output)}"`);
  if (format !== 'csv' && format !== 'libsvm') throw new MleUsageError(`score: --format must be csv or libsvm, got "${format}"`);
  const model = await loadXgboostModel(modelFile);
  const rows = await readRows('score', model, input, format);
  const scores = predict(model, rows.values, rows.rows, output);
  // String() of the float64 holding a float32 prints the shortest decimal that reads back to the same value.
  await write(out, scores.length ? `${Array.from(scores, String).join('\n')}\n` : '');
}

/** `eval`: writes one number, the model's NDCG@k on the file. */
export async function evalCommand(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const values = parse('eval', argv, {
    model: { type: 'string' },
    input: { type: 'string' },
    format: { type: 'string', default: 'libsvm' },
    group: { type: 'string' },
    k: { type: 'string', default: '10' },
    minus: { type: 'boolean', default: false },
  });
  const modelFile = required('eval', values, 'model');
  const input = required('eval', values, 'input');
  if (values.format !== 'libsvm') throw new MleUsageError(`eval: --format must be libsvm (labels and groups come from it), got "${String(values.format)}"`);
  const k = Number(values.k);
  if (!Number.isInteger(k) || k < 1) throw new MleUsageError(`eval: --k must be a positive integer, got "${String(values.k)}"`);
  const model = await loadXgboostModel(modelFile);
  const rows = await readRows('eval', model, input, 'libsvm');
  let groups: number[];
  if (typeof values.group === 'string') groups = await readGroups(values.group);
  else if (rows.qids) groups = groupsFromQids(rows.qids);
  else throw new MleUsageError(`eval: ${input} has no qid: and no --group file was given`);
  const total = groups.reduce((s, g) => s + g, 0);
  if (total !== rows.rows) throw new DataFormatError(`eval: the groups cover ${total} rows but ${input} has ${rows.rows}`);
  // xgboost's metric ranks by predictions (the margins for rank:* objectives; the probabilities, ties included,
  // for logistic ones).
  const scores = predict(model, rows.values, rows.rows, 'prediction');
  await write(out, `${String(ndcg(scores, rows.labels!, groups, { k, minus: values.minus === true }))}\n`);
}

function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
