/** Money as text, e.g. 12.5 → "$12.50". */
export function formatPrice(value: number): string {
  return `$${value.toFixed(2)}`;
}
