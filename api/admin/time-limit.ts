/**
 * A deadline on a Redis read. The service's Redis clients queue commands while disconnected instead of
 * failing them (BullMQ needs that), so without a deadline an operator endpoint would hang during an outage.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
