/**
 * Everything the test tokenizer knows besides the concept words: common words (which also seed
 * the sub-word pieces) and the characters of the scripts it must cover, so that arbitrary
 * multilingual text tokenises into pieces rather than <unk>. Written by hand for this project.
 */

/** Common words per language, space separated. They carry no concept. */
export const FILLER_WORDS: Readonly<Record<string, string>> = {
  en: `the of and to a in is it you that he was for on are with as I his they be at one have this from or had by
    not but what all were we when your can said there use an each which she do how their if will up other about out
    many then them these so some her would make like him into time has look two more write go see number no way could
    people my than first been call who its now find long down day did get come made may part new sale free shipping
    represent query retrieving retrieve evidence documents document search product products item items price size
    small medium large extra men women kids unisex classic vintage modern summer winter spring autumn running sport
    casual elegant comfortable waterproof lightweight soft premium quality design style fashion made perfect everyday
    gift set pack home kitchen office outdoor travel coffee tea water glass steel ceramic wooden wood metal plastic
    recycled organic handmade brand collection edition limited original leather cotton wool silk denim linen suede
    canvas rubber striped plain pattern dotted slim fit regular loose long short sleeve collar button zip pocket strap
    handle lid capacity litre inch cm mm kg best top great good light dark bright pale deep navy cream gold silver`,
  de: `der die das und mit für aus von ein eine ist im in auf zu den dem des nicht sich auch es an als wie noch nach
    bei oder nur aber vor zur bis mehr durch man sein wenn sind so neu neue neuer neues Herren Damen Kinder Größe klein
    groß Leder Baumwolle Wolle Seide Sommer Winter Laufen Sport bequem elegant wasserdicht leicht weich hochwertig
    Qualität Geschenk Küche Büro Reise Kaffee Tee Wasser Glas Stahl Keramik Holz Metall Kunststoff handgemacht Marke
    Kollektion Angebot Versand kostenlos Artikel Preis Farbe Muster gestreift lang kurz Ärmel Kragen Knopf Tasche
    Griff Deckel Inhalt hell dunkel für alle Tage`,
  fr: `le la les et avec pour de du des un une est en sur au aux ce cette qui que dans par plus pas ne se son sa ses
    cuir coton laine soie homme femme enfant enfants taille petit petite grand grande nouveau nouvelle été hiver
    course sport confortable élégant élégante imperméable léger légère doux douce qualité cadeau cuisine bureau
    voyage café thé eau verre acier céramique bois métal plastique fait main marque collection livraison gratuite
    article prix couleur motif rayé long longue court courte manche col bouton poche anse couvercle clair foncé`,
  es: `el la los las y con para de del un una es en sobre por al lo se su sus que como más muy cuero algodón lana
    seda hombre mujer niños niño niña talla pequeño pequeña grande nuevo nueva verano invierno correr deporte cómodo
    cómoda elegante impermeable ligero ligera suave calidad regalo cocina oficina viaje té agua vidrio acero cerámica
    madera metal plástico hecho mano marca colección envío gratis artículo precio color diseño rayas largo larga
    corto corta manga cuello botón bolsillo asa tapa claro oscuro`,
  it: `il lo la i gli le e con per di del della un una è in su da al nel che non più come pelle cotone lana seta uomo
    donna bambini bambino taglia piccolo piccola grande nuovo nuova estate inverno corsa sport comodo comoda elegante
    impermeabile leggero leggera morbido morbida qualità regalo cucina ufficio viaggio caffè tè acqua vetro acciaio
    ceramica legno metallo plastica fatto mano marca collezione spedizione gratuita articolo prezzo colore righe
    lungo lunga corto corta manica colletto bottone tasca manico coperchio chiaro scuro`,
  pt: `o a os as e com para de do da dos das um uma é em no na por que não mais como couro algodão lã seda homem
    mulher crianças criança tamanho pequeno pequena grande novo nova verão inverno corrida esporte confortável
    elegante impermeável leve macio macia qualidade presente cozinha escritório viagem café chá água vidro aço
    cerâmica madeira metal plástico feito à mão marca coleção frete grátis artigo preço cor listrado longo longa
    curto curta manga gola botão bolso alça tampa claro escuro`,
  ru: `и в на с для из по не это как что он она они мы вы к у о же то все так его но да ты мужской мужская женский
    женская детский детская размер маленький большой новый новая новое лето зима кожа хлопок шерсть шёлк спорт
    удобный удобная элегантный водонепроницаемый лёгкий мягкий качество подарок кухня офис путешествие кофе чай вода
    стекло сталь керамика дерево металл пластик ручная работа бренд коллекция доставка бесплатно товар цена цвет
    длинный короткий рукав воротник карман ручка крышка светлый тёмный`,
  ar: `و في من على إلى مع هذا هذه عن أن ما لا هو هي كان التي الذي جلد قطن صوف حرير رجال نساء أطفال مقاس صغير كبير
    جديد جديدة صيف شتاء رياضة مريح أنيق مقاوم للماء خفيف ناعم جودة هدية مطبخ مكتب سفر قهوة شاي ماء زجاج فولاذ خشب
    معدن بلاستيك صناعة يدوية علامة تجارية مجموعة شحن مجاني منتج سعر لون طويل قصير`,
  hi: `और के की में है का को से पर यह एक हैं नया नई महिला पुरुष बच्चे आकार गुणवत्ता उपहार चमड़ा सूती लाल नीला काला
    सफेद जूते बैग कप कुर्सी बोतल टोपी कमीज़ कीमत मुफ्त`,
  ja: `の は が を に で と も です ます した する ない この その 新しい 女性 男性 子供 サイズ 革 綿 ウール 夏 冬 スポーツ
    快適 エレガント 防水 軽い 柔らかい 品質 ギフト キッチン オフィス 旅行 コーヒー お茶 水 ガラス 木製 金属 プラスチック
    手作り ブランド コレクション 送料無料 商品 価格 色 長袖 半袖 人気 おしゃれ レディース メンズ`,
  zh: `的 是 在 和 与 了 不 有 这 我 你 他 新款 女士 男士 儿童 尺码 小 大 皮革 真皮 棉 羊毛 夏季 冬季 运动 舒适 优雅 防水
    轻便 柔软 质量 礼物 厨房 办公室 旅行 咖啡 茶 水 玻璃 钢 陶瓷 木 金属 塑料 手工 品牌 系列 包邮 商品 时尚 经典 价格
    颜色 长袖 短袖 女款 男款 新品 正品 热卖`,
  ko: `의 는 은 이 가 을 를 에 와 과 도 로 새로운 여성 남성 아동 사이즈 작은 큰 가죽 면 울 여름 겨울 스포츠 편안한 우아한
    방수 가벼운 부드러운 품질 선물 주방 사무실 여행 커피 차 물 유리 강철 세라믹 나무 금속 플라스틱 수제 브랜드
    컬렉션 무료 배송 상품 가격 색상`,
};

/** Scripts written without spaces between words: their pieces also exist without the ▁ prefix. */
export function isUnspacedScript(word: string): boolean {
  return /[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]/.test(word);
}

const range = (from: number, to: number): string[] => {
  const out: string[] = [];
  for (let c = from; c <= to; c++) out.push(String.fromCodePoint(c));
  return out;
};

/** Single characters the vocabulary covers (both bare and, for non-combining ones, with ▁). */
export const CHARACTER_SETS: Readonly<Record<string, readonly string[]>> = {
  digits: range(0x30, 0x39),
  ascii_punctuation: [...`!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`],
  latin: [...range(0x41, 0x5a), ...range(0x61, 0x7a)],
  // Latin-1 letters and Latin Extended-A: accented letters of European languages.
  latin_accented: [...range(0xc0, 0xff).filter((c) => c !== '×' && c !== '÷'), ...range(0x100, 0x17f)],
  symbols: [...'«»„“”‘’‚‹›–—•·°€£¥¢§¶©®±¿¡†‰′″№€₽₩₹¤'],
  greek: [...range(0x391, 0x3a9).filter((c) => c !== '\u03a2'), ...range(0x3b1, 0x3c9)],
  cyrillic: [...range(0x410, 0x44f), 'Ё', 'ё', 'І', 'і', 'Ї', 'ї', 'Є', 'є', 'Ґ', 'ґ', 'Ў', 'ў'],
  arabic: [...range(0x621, 0x63a), ...range(0x641, 0x64a), ...range(0x660, 0x669), '،', '؛', '؟', 'ـ', 'ة', 'ى'],
  arabic_marks: range(0x64b, 0x652),
  hebrew: range(0x5d0, 0x5ea),
  devanagari: [...range(0x905, 0x939), ...range(0x958, 0x961), ...range(0x966, 0x96f), '।'],
  devanagari_marks: [...range(0x901, 0x903), ...range(0x93c, 0x94d)],
  thai: range(0xe01, 0xe3a),
  hiragana: range(0x3041, 0x3096),
  katakana: [...range(0x30a1, 0x30fa), 'ー', '・'],
  cjk_punctuation: [...'、。「」『』【】〈〉《》〔〕〜'],
  // Frequent Chinese characters and kanji (a hand-picked list, not exhaustive).
  cjk: [
    ...`的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好
    都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二
    理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少
    关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更
    反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义
    科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士
    转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首
    单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切随复端价衣装鞋帽杯瓶椅裤袋皮革棉毛丝夏冬春秋款式码号
    男童宝贝适尚典雅轻柔软防舒服饰配件送货包邮正品折扣优惠热卖促销购物车店铺家居厨房办公旅游咖啡茶玻璃钢陶瓷木塑料手工牌系列靴赤
    緑青黒白紫茶灰色桃橙橘粉棕蓝绿黑灰红黄私僕彼女男子供新古安高長短軽重美楽気円本日月火水木金土曜時分秒週年間何誰今昨明後前上下
    左右中外内大小多少早遅近遠`.replace(/\s+/g, ''),
  ],
  hangul: [
    ...`가각간갈감갑값강개객거건걸검것게겨격견결경계고곡곤골공과관광괴교구국군굴굽권귀규그극근글금급기긴길김까깨꼬꽃꾸끄끝나낙난날
    남납낭내냉너널넘네녀년념노녹논놀농높뇌누눈뉴느는늘능니님다단달담답당대댁더덕던덜데도독돈돌동두둘뒤드득든들등디따딸때떠떡또
    뚜뜨라락란람랑래랭량러런럼럽렇레려력련렬령례로록론료루류륙률르른를름릉리린림립마막만많말맛망맞매맥머먹먼멀메며면명모목몰몸못
    무묵문물뭐므미민밀바박반받발밝밤방배백버번벌범법벽변별병보복본봉부북분불붉비빌빛빨사삭산살삼상새색생서석선설섬성세소속손솔송
    쇄수숙순술숨쉬스슬습승시식신실심십싸쓰씨아악안알암압앞애액야약양어억언얼엄업없에여역연열염영예오옥온올옷와완왕외요욕용우운울
    움웃원월위유육윤은을음응의이익인일임입있자작잔잘잠장재저적전절점접정제조족존졸종좋좌주죽준줄중즉지직진질짐집짓짜째쪽찌차착찬
    찰참창찾채책처천철첫청체초촌총최추축춘출충취측층치칙친칠침카커컴케코콩크큰키타탁탄탈탐탑태택터테토통투트특틀티파판팔패퍼페펴
    편평폐포폭표푸품풍프피필하학한할함합항해핵행향허헌험혀현혈협형혜호혹혼홍화확환활황회획효후훈휘휴흐흑흔흘흡흥희흰히힘`.replace(
      /\s+/g,
      '',
    ),
  ],
  emoji: [
    ...`😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰🙂🤗🤩🤔😐😑😶🙄😏😣😥😮😴😌😛😜😝🤤😒😓😔😕🙃🤑😲🙁😖😞😟😤😢😭😨😩🤯😬😰😱
    😳🤪😵😡😠🤬😷🤒🤢🤮😇🥳🥺🤠🤡🤫🤭🧐🤓😈💀👻👽🤖💩😺👍👎👌✌🤞👏🙌🙏💪👀❤🧡💛💚💙💜🖤🤍🤎💔💯💥💫⭐🌟✨🔥🌈☀🌙⚡❄☔
    🎉🎁🎈🛒🛍💰💳📦🚚👟👠👡👢👞👕👔👗👖👜👛👝🎒🧢🎩👒☕🍵🥤🍷🍾🪑🛋🏠📱💻⌚🕶👓🏻🏼🏽🏾🏿`.replace(/\s+/g, ''),
  ],
  // Joiners and variation selectors inside emoji sequences, kept as pieces so they are not <unk>.
  joiners: ['\u200d', '\ufe0f'],
};

/** Character sets whose members only ever follow another character (no ▁ form). */
export const COMBINING_SETS: ReadonlySet<string> = new Set(['arabic_marks', 'devanagari_marks', 'joiners']);
