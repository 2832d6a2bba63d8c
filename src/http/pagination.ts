/** The list envelope of every list route: `{data, page, limit, total, has_more}`. */
export function page(query: { page?: number; limit?: number }) {
  const p = Number(query.page ?? 1);
  const limit = Number(query.limit ?? 20);
  return {
    page: p,
    limit,
    offset: (p - 1) * limit,
    envelope<T>(data: T[], total: number) {
      return { data, page: p, limit, total, has_more: (p - 1) * limit + data.length < total };
    },
  };
}
