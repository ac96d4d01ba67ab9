/**
 * What the test model "knows": colours and product categories, their words in eleven languages
 * and what they look like. The generator turns every word listed here into a vocabulary piece
 * whose embedding is the concept's vector, and the image tower recognises the colour prototypes
 * and the silhouettes below, so text and images of the same concept land close together.
 *
 * The first word of each language is the form used in generated phrases and titles; the rest are
 * inflections and synonyms. Words are written as they appear after NFKC normalisation.
 */

export const LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'pt', 'ja', 'zh', 'ko', 'ar', 'ru'] as const;
export type Language = (typeof LANGUAGES)[number];

export type Words = Readonly<Record<Language, readonly string[]>>;

export interface ColourConcept {
  id: string;
  /** sRGB 0–255: the prototype the image tower compares a product's colour with. */
  rgb: readonly [number, number, number];
  words: Words;
}

/** Shapes in the unit square of the product's box, y pointing down. */
export type Primitive =
  | { kind: 'rect'; x0: number; y0: number; x1: number; y1: number }
  | { kind: 'ellipse'; cx: number; cy: number; rx: number; ry: number }
  | { kind: 'polygon'; points: readonly (readonly [number, number])[] }
  /** Elliptic band (handles): inside the outer ellipse, outside the one `thickness` smaller. */
  | { kind: 'ring'; cx: number; cy: number; rx: number; ry: number; thickness: number };

export interface CategoryConcept {
  id: string;
  words: Words;
  /** Union of primitives: the product's silhouette, painted in its colour. */
  silhouette: readonly Primitive[];
}

export const COLOURS: readonly ColourConcept[] = [
  {
    id: 'red',
    rgb: [200, 30, 35],
    words: {
      en: ['red'],
      de: ['rote', 'rot', 'roter', 'rotes', 'roten', 'rotem'],
      fr: ['rouge', 'rouges'],
      es: ['rojo', 'roja', 'rojos', 'rojas'],
      it: ['rosso', 'rossa', 'rossi', 'rosse'],
      pt: ['vermelho', 'vermelha', 'vermelhos', 'vermelhas'],
      ja: ['赤い', '赤', '赤色', 'レッド'],
      zh: ['红色', '红'],
      ko: ['빨간', '빨간색', '빨강'],
      ar: ['أحمر', 'حمراء'],
      ru: ['красный', 'красная', 'красное', 'красные', 'красную', 'красного'],
    },
  },
  {
    id: 'orange',
    rgb: [240, 130, 20],
    words: {
      en: ['orange'],
      de: ['orange', 'orangene', 'orangefarbene', 'orangefarbener', 'orangefarbenes'],
      fr: ['orange', 'oranges'],
      es: ['naranja', 'naranjas', 'anaranjado', 'anaranjada'],
      it: ['arancione', 'arancioni'],
      pt: ['laranja', 'laranjas'],
      ja: ['オレンジ', '橙色'],
      zh: ['橙色', '橘色'],
      ko: ['주황색', '주황', '오렌지색'],
      ar: ['برتقالي', 'برتقالية'],
      ru: ['оранжевый', 'оранжевая', 'оранжевое', 'оранжевые', 'оранжевую'],
    },
  },
  {
    id: 'yellow',
    rgb: [245, 215, 40],
    words: {
      en: ['yellow'],
      de: ['gelbe', 'gelb', 'gelber', 'gelbes', 'gelben'],
      fr: ['jaune', 'jaunes'],
      es: ['amarillo', 'amarilla', 'amarillos', 'amarillas'],
      it: ['giallo', 'gialla', 'gialli', 'gialle'],
      pt: ['amarelo', 'amarela', 'amarelos', 'amarelas'],
      ja: ['黄色い', '黄色', 'イエロー'],
      zh: ['黄色', '黄'],
      ko: ['노란', '노란색', '노랑'],
      ar: ['أصفر', 'صفراء'],
      ru: ['жёлтый', 'желтый', 'жёлтая', 'желтая', 'жёлтое', 'жёлтые', 'желтые', 'жёлтую'],
    },
  },
  {
    id: 'green',
    rgb: [40, 150, 60],
    words: {
      en: ['green'],
      de: ['grüne', 'grün', 'grüner', 'grünes', 'grünen'],
      fr: ['vert', 'verte', 'verts', 'vertes'],
      es: ['verde', 'verdes'],
      it: ['verde', 'verdi'],
      pt: ['verde', 'verdes'],
      ja: ['緑', '緑色', 'グリーン'],
      zh: ['绿色', '绿'],
      ko: ['초록색', '초록', '녹색'],
      ar: ['أخضر', 'خضراء'],
      ru: ['зелёный', 'зеленый', 'зелёная', 'зеленая', 'зелёное', 'зелёные', 'зеленые', 'зелёную'],
    },
  },
  {
    id: 'blue',
    rgb: [35, 80, 200],
    words: {
      en: ['blue'],
      de: ['blaue', 'blau', 'blauer', 'blaues', 'blauen'],
      fr: ['bleu', 'bleue', 'bleus', 'bleues'],
      es: ['azul', 'azules'],
      it: ['blu', 'azzurro', 'azzurra'],
      pt: ['azul', 'azuis'],
      ja: ['青い', '青', 'ブルー'],
      zh: ['蓝色', '蓝'],
      ko: ['파란', '파란색', '파랑'],
      ar: ['أزرق', 'زرقاء'],
      ru: ['синий', 'синяя', 'синее', 'синие', 'синюю', 'голубой'],
    },
  },
  {
    id: 'purple',
    rgb: [120, 50, 160],
    words: {
      en: ['purple', 'violet'],
      de: ['lila', 'violett', 'violette'],
      fr: ['violet', 'violette', 'violets', 'violettes'],
      es: ['morado', 'morada', 'morados', 'moradas', 'púrpura'],
      it: ['viola'],
      pt: ['roxo', 'roxa', 'roxos', 'roxas'],
      ja: ['紫', '紫色', 'パープル'],
      zh: ['紫色', '紫'],
      ko: ['보라색', '보라'],
      ar: ['بنفسجي', 'بنفسجية'],
      ru: ['фиолетовый', 'фиолетовая', 'фиолетовое', 'фиолетовые'],
    },
  },
  {
    id: 'pink',
    rgb: [240, 130, 180],
    words: {
      en: ['pink'],
      de: ['rosa', 'pink'],
      fr: ['rose', 'roses'],
      es: ['rosa', 'rosado', 'rosada', 'rosas'],
      it: ['rosa'],
      pt: ['rosa'],
      ja: ['ピンク', '桃色'],
      zh: ['粉色', '粉红色', '粉红'],
      ko: ['분홍색', '분홍', '핑크'],
      ar: ['وردي', 'وردية'],
      ru: ['розовый', 'розовая', 'розовое', 'розовые'],
    },
  },
  {
    id: 'brown',
    rgb: [120, 70, 35],
    words: {
      en: ['brown'],
      de: ['braune', 'braun', 'brauner', 'braunes', 'braunen'],
      fr: ['marron', 'brun', 'brune', 'bruns', 'brunes'],
      es: ['marrón', 'marrones'],
      it: ['marrone', 'marroni'],
      pt: ['marrom', 'castanho', 'castanha'],
      ja: ['茶色', '茶色い', 'ブラウン'],
      zh: ['棕色', '咖啡色'],
      ko: ['갈색'],
      ar: ['بني', 'بنية'],
      ru: ['коричневый', 'коричневая', 'коричневое', 'коричневые'],
    },
  },
  {
    id: 'black',
    rgb: [25, 25, 28],
    words: {
      en: ['black'],
      de: ['schwarze', 'schwarz', 'schwarzer', 'schwarzes', 'schwarzen'],
      fr: ['noir', 'noire', 'noirs', 'noires'],
      es: ['negro', 'negra', 'negros', 'negras'],
      it: ['nero', 'nera', 'neri', 'nere'],
      pt: ['preto', 'preta', 'pretos', 'pretas'],
      ja: ['黒い', '黒', 'ブラック'],
      zh: ['黑色', '黑'],
      ko: ['검은', '검은색', '검정', '검정색'],
      ar: ['أسود', 'سوداء'],
      ru: ['чёрный', 'черный', 'чёрная', 'черная', 'чёрное', 'чёрные', 'черные'],
    },
  },
  {
    id: 'white',
    rgb: [248, 248, 245],
    words: {
      en: ['white'],
      de: ['weiße', 'weiß', 'weißer', 'weißes', 'weißen'],
      fr: ['blanc', 'blanche', 'blancs', 'blanches'],
      es: ['blanco', 'blanca', 'blancos', 'blancas'],
      it: ['bianco', 'bianca', 'bianchi', 'bianche'],
      pt: ['branco', 'branca', 'brancos', 'brancas'],
      ja: ['白い', '白', 'ホワイト'],
      zh: ['白色', '白'],
      ko: ['흰', '흰색', '하얀', '하얀색'],
      ar: ['أبيض', 'بيضاء'],
      ru: ['белый', 'белая', 'белое', 'белые', 'белую'],
    },
  },
  {
    id: 'grey',
    rgb: [128, 128, 130],
    words: {
      en: ['grey', 'gray'],
      de: ['graue', 'grau', 'grauer', 'graues', 'grauen'],
      fr: ['gris', 'grise', 'grises'],
      es: ['gris', 'grises'],
      it: ['grigio', 'grigia', 'grigi', 'grigie'],
      pt: ['cinza', 'cinzento', 'cinzenta'],
      ja: ['灰色', 'グレー'],
      zh: ['灰色', '灰'],
      ko: ['회색'],
      ar: ['رمادي', 'رمادية'],
      ru: ['серый', 'серая', 'серое', 'серые', 'серую'],
    },
  },
];

export const CATEGORIES: readonly CategoryConcept[] = [
  {
    id: 'shoe',
    words: {
      en: ['shoes', 'shoe', 'sneaker', 'sneakers', 'boot', 'boots'],
      de: ['Schuhe', 'Schuh', 'Schuhen', 'Stiefel'],
      fr: ['chaussures', 'chaussure', 'basket', 'baskets'],
      es: ['zapatos', 'zapato', 'zapatilla', 'zapatillas'],
      it: ['scarpe', 'scarpa'],
      pt: ['sapatos', 'sapato', 'tênis'],
      ja: ['靴', 'シューズ', 'スニーカー'],
      zh: ['鞋子', '鞋', '运动鞋'],
      ko: ['신발', '운동화', '구두'],
      ar: ['حذاء', 'أحذية'],
      ru: ['туфли', 'туфля', 'ботинки', 'ботинок', 'обувь', 'кроссовки'],
    },
    // Side view: a sole and an upper rising to the ankle at the back.
    silhouette: [
      { kind: 'rect', x0: 0.03, y0: 0.74, x1: 0.97, y1: 0.86 },
      {
        kind: 'polygon',
        points: [[0.05, 0.76], [0.07, 0.4], [0.36, 0.36], [0.5, 0.52], [0.8, 0.58], [0.95, 0.66], [0.97, 0.76]],
      },
    ],
  },
  {
    id: 'shirt',
    words: {
      en: ['shirt', 'shirts', 't-shirt', 'tee'],
      de: ['Hemd', 'Hemden', 'Shirt'],
      fr: ['chemise', 'chemises', 'tee-shirt'],
      es: ['camisa', 'camisas', 'camiseta', 'camisetas'],
      it: ['camicia', 'camicie', 'maglietta', 'magliette'],
      pt: ['camisa', 'camisas', 'camiseta', 'camisetas'],
      ja: ['シャツ', 'Tシャツ'],
      zh: ['衬衫', 'T恤'],
      ko: ['셔츠', '티셔츠'],
      ar: ['قميص', 'قمصان'],
      ru: ['рубашка', 'рубашки', 'рубашку', 'футболка', 'футболки', 'футболку'],
    },
    // Front view T: a body and two short sleeves.
    silhouette: [
      { kind: 'rect', x0: 0.27, y0: 0.2, x1: 0.73, y1: 0.96 },
      { kind: 'polygon', points: [[0.27, 0.14], [0.42, 0.08], [0.5, 0.15], [0.58, 0.08], [0.73, 0.14], [0.73, 0.3], [0.27, 0.3]] },
      { kind: 'polygon', points: [[0.3, 0.14], [0.03, 0.34], [0.13, 0.5], [0.3, 0.38]] },
      { kind: 'polygon', points: [[0.7, 0.14], [0.97, 0.34], [0.87, 0.5], [0.7, 0.38]] },
    ],
  },
  {
    id: 'trousers',
    words: {
      en: ['trousers', 'pants', 'jeans'],
      de: ['Hose', 'Hosen', 'Jeans'],
      fr: ['pantalon', 'pantalons', 'jean'],
      es: ['pantalones', 'pantalón', 'vaqueros'],
      it: ['pantaloni', 'pantalone'],
      pt: ['calças', 'calça'],
      ja: ['ズボン', 'パンツ'],
      zh: ['裤子', '长裤'],
      ko: ['바지'],
      ar: ['بنطلون', 'بنطال'],
      ru: ['брюки', 'штаны', 'джинсы'],
    },
    // Two legs joined at a waistband.
    silhouette: [
      { kind: 'rect', x0: 0.24, y0: 0.03, x1: 0.76, y1: 0.14 },
      { kind: 'polygon', points: [[0.24, 0.1], [0.52, 0.1], [0.49, 0.36], [0.47, 0.97], [0.26, 0.97], [0.22, 0.5]] },
      { kind: 'polygon', points: [[0.48, 0.1], [0.76, 0.1], [0.78, 0.5], [0.74, 0.97], [0.53, 0.97], [0.51, 0.36]] },
    ],
  },
  {
    id: 'bag',
    words: {
      en: ['bag', 'bags', 'handbag', 'handbags', 'backpack'],
      de: ['Tasche', 'Taschen', 'Handtasche', 'Rucksack'],
      fr: ['sac', 'sacs'],
      es: ['bolso', 'bolsos', 'bolsa', 'bolsas', 'mochila'],
      it: ['borsa', 'borse', 'zaino'],
      pt: ['bolsa', 'bolsas', 'mochila'],
      ja: ['バッグ', '鞄', 'かばん'],
      zh: ['包', '包包', '手提包', '背包'],
      ko: ['가방'],
      ar: ['حقيبة', 'حقائب'],
      ru: ['сумка', 'сумки', 'сумку', 'рюкзак'],
    },
    // A trapezoid body under an arched handle.
    silhouette: [
      { kind: 'polygon', points: [[0.12, 0.44], [0.88, 0.44], [0.96, 0.94], [0.04, 0.94]] },
      { kind: 'ring', cx: 0.5, cy: 0.46, rx: 0.27, ry: 0.36, thickness: 0.07 },
    ],
  },
  {
    id: 'hat',
    words: {
      en: ['hat', 'hats', 'cap', 'caps'],
      de: ['Hut', 'Hüte', 'Mütze', 'Kappe'],
      fr: ['chapeau', 'chapeaux', 'casquette'],
      es: ['sombrero', 'sombreros', 'gorra', 'gorras'],
      it: ['cappello', 'cappelli'],
      pt: ['chapéu', 'chapéus', 'boné'],
      ja: ['帽子', 'ハット', 'キャップ'],
      zh: ['帽子', '帽'],
      ko: ['모자'],
      ar: ['قبعة', 'قبعات'],
      ru: ['шляпа', 'шляпы', 'шляпу', 'шапка', 'кепка'],
    },
    // A wide flat brim under a domed crown.
    silhouette: [
      { kind: 'ellipse', cx: 0.5, cy: 0.7, rx: 0.49, ry: 0.11 },
      { kind: 'rect', x0: 0.26, y0: 0.34, x1: 0.74, y1: 0.7 },
      { kind: 'ellipse', cx: 0.5, cy: 0.34, rx: 0.24, ry: 0.1 },
    ],
  },
  {
    id: 'cup',
    words: {
      en: ['cup', 'cups', 'mug', 'mugs'],
      de: ['Tasse', 'Tassen', 'Becher'],
      fr: ['tasse', 'tasses', 'mug'],
      es: ['taza', 'tazas'],
      it: ['tazza', 'tazze'],
      pt: ['caneca', 'canecas', 'xícara'],
      ja: ['カップ', 'マグカップ', 'コップ'],
      zh: ['杯子', '杯', '马克杯'],
      ko: ['컵', '머그컵'],
      ar: ['كوب', 'أكواب'],
      ru: ['чашка', 'чашки', 'чашку', 'кружка', 'кружки', 'кружку'],
    },
    // A squat cylinder with a handle on the right.
    silhouette: [
      { kind: 'rect', x0: 0.12, y0: 0.26, x1: 0.68, y1: 0.9 },
      { kind: 'ring', cx: 0.68, cy: 0.56, rx: 0.2, ry: 0.2, thickness: 0.07 },
    ],
  },
  {
    id: 'chair',
    words: {
      en: ['chair', 'chairs'],
      de: ['Stuhl', 'Stühle'],
      fr: ['chaise', 'chaises'],
      es: ['silla', 'sillas'],
      it: ['sedia', 'sedie'],
      pt: ['cadeira', 'cadeiras'],
      ja: ['椅子', 'いす', 'チェア'],
      zh: ['椅子', '椅'],
      ko: ['의자'],
      ar: ['كرسي', 'كراسي'],
      ru: ['стул', 'стулья', 'стула'],
    },
    // Front view: backrest, seat and two legs with empty space between them.
    silhouette: [
      { kind: 'rect', x0: 0.24, y0: 0.03, x1: 0.76, y1: 0.46 },
      { kind: 'rect', x0: 0.16, y0: 0.46, x1: 0.84, y1: 0.6 },
      { kind: 'rect', x0: 0.18, y0: 0.6, x1: 0.3, y1: 0.97 },
      { kind: 'rect', x0: 0.7, y0: 0.6, x1: 0.82, y1: 0.97 },
    ],
  },
  {
    id: 'bottle',
    words: {
      en: ['bottle', 'bottles'],
      de: ['Flasche', 'Flaschen'],
      fr: ['bouteille', 'bouteilles', 'gourde'],
      es: ['botella', 'botellas'],
      it: ['bottiglia', 'bottiglie', 'borraccia'],
      pt: ['garrafa', 'garrafas'],
      ja: ['ボトル', '瓶', '水筒'],
      zh: ['瓶子', '瓶', '水瓶'],
      ko: ['병', '물병'],
      ar: ['زجاجة', 'زجاجات'],
      ru: ['бутылка', 'бутылки', 'бутылку'],
    },
    // Tall and narrow: body, shoulders and neck.
    silhouette: [
      { kind: 'rect', x0: 0.32, y0: 0.4, x1: 0.68, y1: 0.97 },
      { kind: 'polygon', points: [[0.32, 0.41], [0.43, 0.24], [0.57, 0.24], [0.68, 0.41]] },
      { kind: 'rect', x0: 0.43, y0: 0.03, x1: 0.57, y1: 0.26 },
    ],
  },
];


export function colourById(id: string): ColourConcept {
  const c = COLOURS.find((x) => x.id === id);
  if (!c) throw new Error(`unknown colour "${id}" (known: ${COLOURS.map((x) => x.id).join(', ')})`);
  return c;
}

export function categoryById(id: string): CategoryConcept {
  const c = CATEGORIES.find((x) => x.id === id);
  if (!c) throw new Error(`unknown category "${id}" (known: ${CATEGORIES.map((x) => x.id).join(', ')})`);
  return c;
}

/** Languages that write the adjective after the noun. */
const NOUN_FIRST: ReadonlySet<Language> = new Set(['fr', 'es', 'it', 'pt', 'ar']);

/**
 * A short product phrase such as "red shoes", "rote Schuhe", "chaussures rouge", "赤い靴", "红色鞋子".
 * Built from the first listed forms, so agreement is approximate in inflected languages; the
 * model maps every listed inflection to the same concept, so retrieval does not depend on it.
 */
export function conceptPhrase(colourId: string, categoryId: string, lang: Language): string {
  const adj = colourById(colourId).words[lang][0]!;
  const noun = categoryById(categoryId).words[lang][0]!;
  if (lang === 'zh') return adj + noun;
  if (lang === 'ja') return adj.endsWith('い') ? adj + noun : `${adj}の${noun}`;
  return NOUN_FIRST.has(lang) ? `${noun} ${adj}` : `${adj} ${noun}`;
}
