// What RFC 8259 leaves to the implementation and JSON.parse lets through, refused for pushes: a name
// twice in one object (section 4: behaviour "unpredictable"; JSON.parse keeps the last), strings with
// unpaired surrogates (section 8.2: not Unicode), and numbers beyond float64 (section 6 lets an
// implementation limit the range; JSON.parse turns 1e400 into Infinity).

/** The first problem found, with the path of the value at fault (`[3].labels.host`, `metrics.rtt`). */
export interface JsonProblem {
  readonly path: string;
  readonly message: string;
}

type Frame = { kind: 'object'; names: Set<string>; name: string | undefined; expectName: boolean } | { kind: 'array'; index: number };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function pathOf(stack: readonly Frame[]): string {
  let path = '';
  for (const f of stack) {
    if (f.kind === 'array') path += `[${f.index}]`;
    else if (f.name !== undefined && !/^[A-Za-z_][A-Za-z0-9_:]*$/.test(f.name)) path += `[${JSON.stringify(f.name)}]`;
    else if (f.name !== undefined) path += path === '' ? f.name : `.${f.name}`;
  }
  return path === '' ? '(root)' : path;
}

/** Checks text that JSON.parse accepted; undefined when it holds none of the problems above. */
export function findJsonProblem(text: string): JsonProblem | undefined {
  const stack: Frame[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    const top = stack.at(-1);
    if (c === '{') stack.push({ kind: 'object', names: new Set(), name: undefined, expectName: true });
    else if (c === '[') stack.push({ kind: 'array', index: 0 });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      if (top?.kind === 'array') top.index++;
      else if (top?.kind === 'object') top.expectName = true;
    } else if (c === ':') {
      if (top?.kind === 'object') top.expectName = false;
    } else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const token = text.slice(i, end + 1);
      // Only an escape can make a string of well-formed UTF-8 hold a lone surrogate.
      const value = token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
      if (top?.kind === 'object' && top.expectName) {
        top.name = value;
        if (top.names.has(value)) return { path: pathOf(stack), message: `the name ${JSON.stringify(value)} appears twice in one object` };
        top.names.add(value);
      }
      if (LONE_SURROGATE.test(value))
        return { path: pathOf(stack), message: 'the string holds an unpaired UTF-16 surrogate (\\ud800 to \\udfff), which is not Unicode' };
      i = end + 1;
      continue;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0] as string;
      if (!Number.isFinite(Number(token))) {
        const shown = token.length > 24 ? `${token.slice(0, 12)}…(${token.length} characters)` : token;
        return { path: pathOf(stack), message: `the number ${shown} is beyond the range of a 64-bit float` };
      }
      i += token.length;
      continue;
    }
    i++;
  }
  return undefined;
}
