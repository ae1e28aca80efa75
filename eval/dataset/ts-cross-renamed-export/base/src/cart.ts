import { formatPrice } from "./format";

export interface Line {
  name: string;
  price: number;
}

/** One line of text per cart line, with its price. */
export function describeCart(lines: Line[]): string[] {
  return lines.map((line) => `${line.name}: ${formatPrice(line.price)}`);
}
