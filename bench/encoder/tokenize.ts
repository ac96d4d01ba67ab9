/**
 * Tokenisation throughput: TextTokenizer (Hugging Face tokenizers' Rust core) against
 * transformers.js's XLMRobertaTokenizer (pure JS) built from the same tokenizer.json, on short
 * multilingual product titles and on long product descriptions (~300–500 tokens). Both produce
 * truncated id lists for batches of 64 texts.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XLMRobertaTokenizer } from '@huggingface/transformers';
import { CATEGORIES, COLOURS, LANGUAGES, conceptPhrase, type Language } from '../../scripts/test-model/concepts.ts';
import { Rng } from '../../scripts/test-model/prng.ts';
import { TextTokenizer } from '../../shared/encoder/tokenizer.ts';
import { report } from '../report.ts';

const BATCH = 64;
const MAX_TOKENS = 512;
const ROUNDS = 5;
const ROUND_MS = 400;

function defaultModelDir(): string {
  const fromEnv = process.env.MODEL_DIR;
  if (fromEnv && existsSync(path.join(fromEnv, 'tokenizer.json'))) return fromEnv;
  return fileURLToPath(new URL('../../models/test-tiny', import.meta.url));
}

const BRANDS = ['Nordkap', 'Velora', 'Atelier Lumé', 'Kōbō', 'Sendero', 'Brixton & Co.', 'Mare Nostrum', 'Hanami', 'Polar Fox', 'Zest'];
const TITLE_EXTRAS = [
  'Gr. 44', 'size 42 EU', 'taille M', 'talla 38', 'XL', '350 ml', '1,5 L', '2er-Pack', 'Set of 4', '100% Baumwolle',
  'organic cotton', 'cuir véritable', 'vegan leather', '– free shipping', 'NEU 2024', '送料無料', '包邮', 'новинка', 'خصم 20%', '★★★★☆',
];

/** Catalogue-like titles: brand, a product phrase in one of 11 languages, a size or selling point. */
function shortTitles(rng: Rng, n: number): string[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng.uniform() * xs.length)]!;
  return Array.from({ length: n }, () => {
    const phrase = conceptPhrase(pick(COLOURS).id, pick(CATEGORIES).id, pick(LANGUAGES));
    return `${pick(BRANDS)} ${phrase} ${pick(TITLE_EXTRAS)} ${Math.floor(rng.uniform() * 9000) + 1000}`;
  });
}

/** Sentences of product descriptions, written for this benchmark. */
const DESCRIPTION_SENTENCES: Readonly<Record<string, readonly string[]>> = {
  en: [
    'Crafted from full-grain Italian leather with a breathable, moisture-wicking textile lining.',
    'The cushioned EVA midsole absorbs shocks on long walks, while the non-slip rubber outsole grips wet pavements.',
    'Machine washable at 30 °C; do not tumble dry, iron inside out on a low setting.',
    'Our ergonomic design supports your lower back during long working days at the desk.',
    'Dishwasher-safe and microwave-safe stoneware, glazed by hand in a small family workshop.',
    'Each piece is unique: slight variations in colour and texture are part of its charm.',
    'Ships within 2–3 business days in plastic-free, recyclable packaging.',
    'Dimensions: 32 × 24 × 12 cm, weight 780 g, adjustable shoulder strap up to 120 cm.',
  ],
  de: [
    'Gefertigt aus vollnarbigem Rindsleder mit atmungsaktivem Innenfutter und herausnehmbarer Einlegesohle.',
    'Die rutschfeste Gummisohle sorgt auch bei Nässe für sicheren Halt.',
    'Waschbar bei 30 °C, nicht im Trockner trocknen, auf links bügeln.',
    'Spülmaschinen- und mikrowellengeeignet, handglasiert in einer kleinen Manufaktur in Thüringen.',
    'Lieferung innerhalb von 2–3 Werktagen in plastikfreier, recycelbarer Verpackung.',
    'Maße: 32 × 24 × 12 cm, Gewicht 780 g, verstellbarer Schulterriemen mit Karabinerhaken.',
  ],
  fr: [
    'Fabriqué en cuir pleine fleur avec une doublure respirante et une semelle intérieure amovible.',
    'La semelle extérieure antidérapante offre une excellente adhérence, même sur sol mouillé.',
    'Lavable en machine à 30 °C, ne pas passer au sèche-linge, repasser sur l’envers.',
    'Grès émaillé à la main, compatible lave-vaisselle et micro-ondes.',
    'Expédition sous 2 à 3 jours ouvrés dans un emballage recyclable sans plastique.',
  ],
  es: [
    'Fabricado en piel de flor entera con forro transpirable y plantilla extraíble.',
    'La suela de goma antideslizante ofrece un agarre excelente incluso sobre superficies mojadas.',
    'Lavable a máquina a 30 °C; no usar secadora, planchar del revés.',
    'Gres esmaltado a mano, apto para lavavajillas y microondas.',
    'Envío en 2–3 días laborables en embalaje reciclable y sin plástico.',
  ],
  ja: [
    '上質なイタリア製フルグレインレザーを使用し、通気性の良い裏地を採用しています。',
    '滑りにくいラバーソールで、雨の日でも安心して歩けます。',
    '食器洗い機・電子レンジ対応の手作りの陶器です。',
    'ご注文から2〜3営業日以内に、リサイクル可能な梱包でお届けします。',
  ],
  zh: [
    '采用意大利头层牛皮制作，内衬透气吸汗，鞋垫可拆卸。',
    '防滑橡胶大底，雨天路面也能稳稳抓地。',
    '可用洗碗机和微波炉，手工上釉的炻器。',
    '下单后2至3个工作日内发货，采用可回收的无塑料包装。',
  ],
  ru: [
    'Изготовлено из натуральной кожи с дышащей подкладкой и съёмной стелькой.',
    'Нескользящая резиновая подошва обеспечивает надёжное сцепление даже на мокром асфальте.',
    'Можно мыть в посудомоечной машине и использовать в микроволновой печи.',
    'Отправка в течение 2–3 рабочих дней в перерабатываемой упаковке без пластика.',
  ],
};

/** Product descriptions of ~300–500 tokens: a title line, then sentences in its language. */
function longDescriptions(rng: Rng, n: number): string[] {
  const langs = Object.keys(DESCRIPTION_SENTENCES);
  return Array.from({ length: n }, () => {
    const lang = langs[Math.floor(rng.uniform() * langs.length)]! as keyof typeof DESCRIPTION_SENTENCES;
    const sentences = DESCRIPTION_SENTENCES[lang]!;
    const title = conceptPhrase(COLOURS[Math.floor(rng.uniform() * COLOURS.length)]!.id, CATEGORIES[Math.floor(rng.uniform() * CATEGORIES.length)]!.id, lang as Language);
    const parts = [title + '.'];
    const target = 650 + Math.floor(rng.uniform() * 450);
    let length = title.length;
    while (length < target) {
      const s = sentences[Math.floor(rng.uniform() * sentences.length)]!;
      parts.push(s);
      length += s.length + 1;
    }
    return parts.join(lang === 'ja' || lang === 'zh' ? '' : ' ');
  });
}

type BatchFn = (batch: string[]) => Promise<unknown> | unknown;

interface Round {
  /** Texts per wall-clock second. */
  wall: number;
  /** Texts per CPU second of the whole process (all threads): robust to other load on the machine. */
  cpu: number;
}

/** Runs batches of BATCH for at least `ms`, cycling through `texts`. */
async function timedRound(texts: readonly string[], encodeBatch: BatchFn, ms: number): Promise<Round> {
  let done = 0;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  while (performance.now() - started < ms) {
    const from = done % texts.length;
    const batch = texts.slice(from, from + BATCH) as string[];
    await encodeBatch(batch);
    done += batch.length;
  }
  const wallS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return { wall: done / wallS, cpu: done / ((cpu.user + cpu.system) / 1e6) };
}

/**
 * Rounds of the two tokenizers alternate so that both see the same machine load; each side keeps
 * its best round (interference from other processes only ever slows a round down).
 */
async function compare(texts: readonly string[], ours: BatchFn, theirs: BatchFn): Promise<[Round, Round]> {
  await ours(texts.slice(0, BATCH) as string[]);
  await theirs(texts.slice(0, BATCH) as string[]);
  const best = (a: Round, b: Round): Round => ({ wall: Math.max(a.wall, b.wall), cpu: Math.max(a.cpu, b.cpu) });
  let bestOurs: Round = { wall: 0, cpu: 0 };
  let bestTheirs: Round = { wall: 0, cpu: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    bestOurs = best(bestOurs, await timedRound(texts, ours, ROUND_MS));
    bestTheirs = best(bestTheirs, await timedRound(texts, theirs, ROUND_MS));
  }
  return [bestOurs, bestTheirs];
}

export async function benchTokenize(modelDir: string = defaultModelDir()): Promise<void> {
  const tokenizerPath = path.join(modelDir, 'tokenizer.json');
  const ours = await TextTokenizer.load(tokenizerPath, { maxTokens: MAX_TOKENS, maxBytes: 1 << 20 });
  const theirs = new XLMRobertaTokenizer(
    JSON.parse(readFileSync(tokenizerPath, 'utf8')),
    JSON.parse(readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8')),
  );
  const rng = new Rng('bench-tokenize');
  const workloads = [
    { name: 'short_titles', texts: shortTitles(rng, 2048) },
    { name: 'long_descriptions', texts: longDescriptions(rng, 256) },
  ];
  for (const { name, texts } of workloads) {
    const sample = await ours.tokenize(texts.slice(0, 128).map((text) => ({ text })));
    const tokens = sample.reduce((sum, r) => sum + ('ids' in r ? r.ids.length : 0), 0) / sample.length;
    const [oursRound, theirsRound] = await compare(
      texts,
      (batch) => ours.tokenize(batch.map((text) => ({ text }))),
      (batch) => theirs(batch, { truncation: true, max_length: MAX_TOKENS, padding: false, return_tensor: false }),
    );
    report({
      suite: 'encoder',
      metric: 'tokenize_texts_per_s',
      value: oursRound.wall,
      unit: 'texts/s',
      baseline: 'transformers.js',
      ratio: oursRound.wall / theirsRound.wall,
      baseline_value: Number(theirsRound.wall.toPrecision(4)),
      cpu_texts_per_s: Number(oursRound.cpu.toPrecision(4)),
      baseline_cpu_texts_per_s: Number(theirsRound.cpu.toPrecision(4)),
      cpu_ratio: Number((oursRound.cpu / theirsRound.cpu).toPrecision(4)),
      workload: name,
      mean_tokens: Number(tokens.toFixed(1)),
      batch: BATCH,
      rounds: `best of ${ROUNDS} × ${ROUND_MS} ms, alternating`,
      max_tokens: MAX_TOKENS,
      tokenizer: path.relative(process.cwd(), tokenizerPath) || tokenizerPath,
    });
  }
}
