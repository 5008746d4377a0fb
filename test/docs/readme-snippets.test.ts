/**
 * The README's "Use it" snippets are what the tests run. Each snippet is
 * preceded by `<!-- snippet: <test file> -->`; this checks it against that
 * file, so a snippet cannot drift from the test that runs it:
 *  - TypeScript: every line (trimmed, comments aside) is a line of the test;
 *  - shell: every command's verbs (install, apply, create, ...) and flags appear in the test as the
 *    quoted arguments it passes (`'install'`, `'--create-namespace'`, `` `--from-literal=...` ``);
 *  - YAML: every key appears in the test as an object key (`sourceType:`).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface Snippet { file: string; lang: string; body: string[] }
function snippets(): Snippet[] {
  const out: Snippet[] = [];
  const re = /<!-- snippet: (\S+) -->\n```(\w+)\n([\s\S]*?)```/g;
  for (let m; (m = re.exec(README)); ) out.push({ file: m[1], lang: m[2], body: m[3].split('\n').filter((l) => l.trim()) });
  return out;
}

const VERBS = new Set(['install', 'upgrade', 'uninstall', 'template', 'lint', 'apply', 'create', 'delete', 'get', 'patch', 'secret', 'generic', 'namespace']);

/** What of a snippet line must appear in the test file, by language. */
function required(lang: string, line: string): string[] {
  const code = line.replace(/\s+#.*$/, '').trim();
  if (lang === 'ts') return code.startsWith('//') ? [] : [code];
  if (lang === 'sh') {
    const words = code.split(/\s+/).slice(1); // the program (kubectl, helm) is the test's own helper
    const verbs = words.filter((w) => VERBS.has(w));
    const flags = words.filter((w) => /^--?[a-z]/.test(w)).map((w) => w.split('=')[0]);
    return [...verbs, ...flags];
  }
  if (lang === 'yaml') return [...code.matchAll(/([A-Za-z]+):/g)].map((m) => `${m[1]}:`).filter((k) => !['apiVersion:', 'kind:', 'metadata:', 'spec:', 'https:'].includes(k));
  throw new Error(`a snippet in ${lang}: add how it is checked`);
}

const all = snippets();

test('GIVEN the README WHEN its Use it section is read THEN it has the five ways in, each naming its test', () => {
  expect(all.map((s) => s.file)).toEqual([
    'test/package/consumers.test.ts',
    'test/package/consumers.test.ts',
    'test/helm/chart.test.ts',
    'test/real-node/olm.test.ts',
    'test/real-node/controller.test.ts',
  ]);
});

test.each(all.map((s, i) => [`${i + 1}. ${s.lang} from ${s.file}`, s] as const))('GIVEN snippet %s THEN the test it names runs what it shows', (_name, s) => {
  expect(existsSync(path.join(ROOT, s.file))).toBe(true);
  const test = readFileSync(path.join(ROOT, s.file), 'utf8');
  const quoted = (r: string) => (s.lang === 'sh' ? ["'", '"', '`'].some((q) => test.includes(q + r)) : test.includes(r));
  const missing = s.body.flatMap((l) => required(s.lang, l).filter((r) => !quoted(r)).map((r) => `${r}   (README: ${l.trim()})`));
  expect(missing).toEqual([]);
});
