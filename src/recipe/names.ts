/** What a user expects written one way: extension names end in .tcz. */
export function withTcz(name: string): string {
  return name.endsWith('.tcz') ? name : `${name}.tcz`;
}
