/**
 * Runs `task` over `items` with at most `limit` in flight and resolves with the results in input
 * order. After the first failure no new task starts, and the promise rejects with that failure.
 * Bounding the in-flight requests keeps a burst of hundreds of writes from queueing up inside the
 * driver (where they would time out together) while still keeping the connection busy.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}
