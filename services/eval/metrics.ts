/**
 * Ranking metrics at a cut-off k, over graded judgments (grade > 0 is relevant): recall@k, nDCG@k
 * with gain 2^grade − 1 and a log2(rank + 1) discount against the ideal order of the judgments,
 * MRR@k the reciprocal rank of the first relevant result (0 when none is in the top k).
 */
export interface QueryScores {
  recall: number;
  ndcg: number;
  mrr: number;
}

export function scoreRanking(ranked: readonly string[], relevant: Readonly<Record<string, number>>, k: number): QueryScores {
  const top = ranked.slice(0, k);
  const grades = Object.values(relevant).filter((g) => g > 0);
  const total = grades.length;
  let found = 0;
  let dcg = 0;
  let mrr = 0;
  top.forEach((id, i) => {
    const g = relevant[id] ?? 0;
    if (g <= 0) return;
    found++;
    dcg += (2 ** g - 1) / Math.log2(i + 2);
    if (mrr === 0) mrr = 1 / (i + 1);
  });
  const ideal = [...grades].sort((a, b) => b - a).slice(0, k).reduce((s, g, i) => s + (2 ** g - 1) / Math.log2(i + 2), 0);
  return { recall: total === 0 ? 0 : found / total, ndcg: ideal === 0 ? 0 : dcg / ideal, mrr };
}

export function meanScores(scores: readonly QueryScores[]): QueryScores {
  const n = scores.length || 1;
  const sum = scores.reduce((s, x) => ({ recall: s.recall + x.recall, ndcg: s.ndcg + x.ndcg, mrr: s.mrr + x.mrr }), { recall: 0, ndcg: 0, mrr: 0 });
  return { recall: sum.recall / n, ndcg: sum.ndcg / n, mrr: sum.mrr / n };
}
