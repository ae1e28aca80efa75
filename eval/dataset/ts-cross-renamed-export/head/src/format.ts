/** Money as text, e.g. 12.5 → "$12.50". */
export function formatAmount(value: number): string {
  return `$${value.toFixed(2)}`;
}
