// The process key: a stable identity of "what a process is" across restarts and pids. It is the executable
// path; for interpreters the executable alone says little (every Python program is /usr/bin/python3.11), so
// the script or main module from the command line is added: `/usr/bin/python3.11 /opt/app/worker.py`,
// `/usr/bin/python3.11 -m http.server`, `/usr/bin/bash -c`, `/usr/bin/java -jar /opt/app.jar`.
// The command line is attacker-controlled text: parsing is linear, bounded and never throws.

/** Stable identity of "what a process is" across restarts: executable, plus the script for interpreters. */
export type ProcessKey = string;

/** The process key of connections no process could be tied to (traces of closed sockets, conntrack flows). */
export const UNATTRIBUTED: ProcessKey = 'unattributed';

export interface ProcessIdentity {
  executable: string | null | undefined;
  command_line: string | null | undefined;
  name: string | null | undefined;
}

const MAX_SCAN_CHARS = 8192;
const MAX_TOKENS = 64;
const MAX_PART = 512;

/** Options of a conventional interpreter, by how they treat the rest of the command line. */
interface OptionSpec {
  /** Short options taking a value, attached (`-Wignore`) or as the next argument (`-W ignore`). */
  shortArg: string;
  /** Short options whose value is only ever attached (`-i.bak`, `-MStrict`): the rest of the token. */
  shortAttached: string;
  /** Short options with optional attached digits, after which grouping goes on (`perl -l0e`, `-wle`). */
  shortDigits: string;
  /** Short options that mean "the program is inline code": the key gets the option, not the code. */
  shortCode: string;
  /** Short options naming a module to run: the key gets the option and the module. */
  shortModule: string;
  /** Short options naming the script file (`php -f x.php`): the key gets the file. */
  shortFile: string;
  longArg: readonly string[];
  longCode: readonly string[];
  /** Whether short options can be grouped (`-uB`, `-lc`). */
  grouped: boolean;
  /** Whether `+o name` style options exist (shells). */
  plusOptions: boolean;
}

const spec = (s: Partial<OptionSpec>): OptionSpec => ({
  shortArg: '',
  shortAttached: '',
  shortDigits: '',
  shortCode: '',
  shortModule: '',
  shortFile: '',
  longArg: [],
  longCode: [],
  grouped: true,
  plusOptions: false,
  ...s,
});

const PYTHON = spec({ shortArg: 'WXQ', shortCode: 'c', shortModule: 'm', longArg: ['--check-hash-based-pycs'] });
const NODE = spec({
  shortArg: 'rC',
  shortCode: 'ep',
  longArg: [
    '--require', '--import', '--loader', '--experimental-loader', '--conditions', '--title', '--input-type',
    '--env-file', '--env-file-if-exists', '--openssl-config', '--icu-data-dir', '--redirect-warnings',
    '--diagnostic-dir', '--report-dir', '--cpu-prof-dir', '--heap-prof-dir', '--experimental-policy',
    '--disable-warning', '--watch-path', '--test-reporter', '--test-reporter-destination',
  ],
  longCode: ['--eval', '--print'],
});
const PERL = spec({ shortArg: 'I', shortAttached: 'MmxidDFV', shortDigits: 'l0C', shortCode: 'eE' });
const RUBY = spec({
  shortArg: 'IrCEF',
  shortAttached: 'xKi',
  shortDigits: '0WT',
  shortCode: 'e',
  longArg: ['--enable', '--disable', '--encoding', '--external-encoding', '--internal-encoding', '--dump'],
});
const SHELL = spec({ shortArg: 'oOC', shortCode: 'c', longArg: ['--rcfile', '--init-file'], plusOptions: true });
const PHP = spec({ shortArg: 'cdzt', shortCode: 'rBRES', shortFile: 'fF', grouped: false });
const LUA = spec({ shortArg: 'lj', shortAttached: 'O', shortCode: 'e' });
const RSCRIPT = spec({ shortCode: 'e', grouped: false });
const OSASCRIPT = spec({ shortArg: 'ls', shortCode: 'e' });
const TCL = spec({ longArg: ['-encoding'], grouped: false });
const DENO = spec({
  shortArg: 'cLr',
  longArg: ['--config', '--import-map', '--lock', '--cert', '--location', '--seed', '--env-file', '--log-level', '--preload', '--cwd'],
  longCode: [],
});
const BUN = spec({ shortArg: 'cr', shortCode: 'ep', longArg: ['--cwd', '--config', '--preload', '--env-file'], longCode: ['--eval', '--print'] });

type Family =
  | { kind: 'generic'; spec: OptionSpec; firstArgIsFile?: boolean }
  | { kind: 'java' | 'pwsh' | 'powershell' | 'dotnet' | 'runner' | 'busybox' | 'wsh' };

const RUNNER_SUBCOMMANDS = new Set(['run', 'serve', 'test', 'bench', 'task', 'x', 'exec', 'eval', 'repl']);

/** Family of an executable by its file name (`python3.11`, `node.exe`, `pwsh`), or null when not an interpreter. */
function familyOf(fileName: string): Family | null {
  const n = fileName.toLowerCase().replace(/\.exe$/, '');
  if (/^(python|pypy)[\d.]*[dmw]?$/.test(n)) return { kind: 'generic', spec: PYTHON };
  if (/^node(js)?[\d.]*$/.test(n)) return { kind: 'generic', spec: NODE };
  if (/^perl[\d.]*$/.test(n)) return { kind: 'generic', spec: PERL };
  if (/^ruby[\d.]*$/.test(n)) return { kind: 'generic', spec: RUBY };
  if (/^(ba|da|z|k|mk|a|tc|c|fi)?sh[\d.]*$/.test(n)) return { kind: 'generic', spec: SHELL };
  if (/^php[\d.]*(-cli)?$/.test(n)) return { kind: 'generic', spec: PHP };
  if (/^lua(jit)?[\d.-]*$/.test(n)) return { kind: 'generic', spec: LUA };
  if (n === 'rscript') return { kind: 'generic', spec: RSCRIPT };
  if (n === 'osascript') return { kind: 'generic', spec: OSASCRIPT };
  if (/^(tclsh|wish)[\d.]*$/.test(n)) return { kind: 'generic', spec: TCL };
  if (n === 'mono' || n === 'mono-sgen') return { kind: 'generic', spec: spec({ grouped: false }) };
  if (n === 'java' || n === 'javaw') return { kind: 'java' };
  if (n === 'pwsh' || n === 'pwsh-preview') return { kind: 'pwsh' };
  if (n === 'powershell' || n === 'powershell_ise') return { kind: 'powershell' };
  if (n === 'dotnet') return { kind: 'dotnet' };
  if (n === 'deno' || n === 'bun') return { kind: 'runner' };
  if (n === 'busybox') return { kind: 'busybox' };
  if (n === 'wscript' || n === 'cscript') return { kind: 'wsh' };
  return null;
}

function runnerSpec(fileName: string): OptionSpec {
  return fileName.toLowerCase().startsWith('deno') ? DENO : BUN;
}

/**
 * Splits a command line into at most MAX_TOKENS arguments. Quotes group (Windows and quoted Linux command
 * lines); control characters (NUL separators of /proc/<pid>/cmdline) separate. Backslashes are literal.
 */
export function tokenizeCommandLine(commandLine: string, maxTokens = MAX_TOKENS): string[] {
  const text = commandLine.length > MAX_SCAN_CHARS ? commandLine.slice(0, MAX_SCAN_CHARS) : commandLine;
  const tokens: string[] = [];
  let current = '';
  let started = false;
  let quote = '';
  for (let i = 0; i < text.length && tokens.length < maxTokens; i++) {
    const c = text[i] as string;
    const code = c.charCodeAt(0);
    if (quote) {
      if (c === quote) quote = '';
      else current += code < 0x20 || code === 0x7f ? ' ' : c;
    } else if (c === ' ' || code < 0x20 || code === 0x7f) {
      if (started) tokens.push(current);
      current = '';
      started = false;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else {
      current += c;
      started = true;
    }
  }
  if (started && tokens.length < maxTokens) tokens.push(current);
  return tokens;
}

function fileNameOf(path: string): string {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return path.slice(cut + 1);
}

function cleanPart(part: string): string {
  const clean = part.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > MAX_PART ? clean.slice(0, MAX_PART) : clean;
}

function scriptPart(arg: string): string {
  return arg.startsWith('./') && arg.length > 2 ? arg.slice(2) : arg;
}

/** The key parts after the executable for a conventional interpreter; [] for an interactive one. */
function scanGeneric(args: readonly string[], s: OptionSpec): string[] {
  for (let i = 0; i < args.length; i++) {
    const t = args[i] as string;
    if (t === '--') {
      const next = args[i + 1];
      return next === undefined ? [] : [scriptPart(next)];
    }
    if (t === '-') return ['-'];
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      const name = eq >= 0 ? t.slice(0, eq) : t;
      if (s.longCode.includes(name)) return [name];
      if (s.longArg.includes(name) && eq < 0) i++;
      continue;
    }
    if (s.longArg.includes(t)) {
      i++;
      continue;
    }
    if (t.length > 1 && (t.startsWith('-') || (s.plusOptions && t.startsWith('+')))) {
      for (let j = 1; j < t.length; j++) {
        const c = t[j] as string;
        if (s.shortCode.includes(c)) return [`-${c}`];
        if (s.shortModule.includes(c)) {
          const module = j + 1 < t.length ? t.slice(j + 1) : args[i + 1];
          return module === undefined ? [`-${c}`] : [`-${c}`, module];
        }
        if (s.shortFile.includes(c)) {
          const file = j + 1 < t.length ? t.slice(j + 1) : args[i + 1];
          return file === undefined ? [`-${c}`] : [scriptPart(file)];
        }
        if (s.shortArg.includes(c)) {
          if (j + 1 === t.length) i++;
          break;
        }
        if (s.shortDigits.includes(c)) {
          while (j + 1 < t.length && /[0-9a-fA-Fx]/.test(t[j + 1] as string) && !s.shortCode.includes(t[j + 1] as string)) j++;
          continue;
        }
        if (s.shortAttached.includes(c) || !s.grouped) break;
      }
      continue;
    }
    return [scriptPart(t)];
  }
  return [];
}

const JAVA_ARG_OPTIONS = new Set([
  '-cp', '-classpath', '--class-path', '-p', '--module-path', '--upgrade-module-path', '--add-modules',
  '--add-reads', '--add-exports', '--add-opens', '--limit-modules', '--patch-module', '--enable-native-access',
  '--source', '-d', '--describe-module',
]);

function scanJava(args: readonly string[]): string[] {
  for (let i = 0; i < args.length; i++) {
    const t = args[i] as string;
    if (t === '-jar') {
      const jar = args[i + 1];
      return jar === undefined ? ['-jar'] : ['-jar', jar];
    }
    if (t === '-m' || t === '--module') {
      const module = args[i + 1];
      return module === undefined ? ['-m'] : ['-m', module];
    }
    if (t.startsWith('--module=')) return ['-m', t.slice('--module='.length)];
    if (JAVA_ARG_OPTIONS.has(t)) {
      i++;
      continue;
    }
    if (t.startsWith('-') || t.startsWith('@')) continue;
    return [t];
  }
  return [];
}

function psOption(token: string): string | null {
  if (!token.startsWith('-')) return null;
  return token.replace(/^-+/, '').toLowerCase();
}

const PS_ARG_OPTIONS = ['executionpolicy', 'windowstyle', 'version', 'configurationname', 'outputformat',
  'inputformat', 'psconsolefile', 'workingdirectory', 'settingsfile', 'custompipename', 'configurationfile'];
const PS_ARG_ALIASES = new Set(['ep', 'ex', 'w', 'v', 'of', 'if', 'wd', 'o']);

function scanPowerShell(args: readonly string[], positionalIsFile: boolean): string[] {
  for (let i = 0; i < args.length; i++) {
    const t = args[i] as string;
    const name = psOption(t);
    if (name === null) {
      return positionalIsFile || /\.ps1$/i.test(t) ? [scriptPart(t)] : ['-Command'];
    }
    if (name === '') continue;
    if (name === 'e' || name === 'ec' || (name.length >= 2 && 'encodedcommand'.startsWith(name))) return ['-EncodedCommand'];
    if ('command'.startsWith(name)) return ['-Command'];
    if ('file'.startsWith(name)) {
      const file = args[i + 1];
      return file === undefined ? ['-File'] : [scriptPart(file)];
    }
    if (PS_ARG_ALIASES.has(name) || (name.length >= 2 && PS_ARG_OPTIONS.some((o) => o.startsWith(name)))) i++;
  }
  return [];
}

function scanDotnet(args: readonly string[]): string[] {
  const first = args.findIndex((a) => !a.startsWith('-'));
  const sub = args[first];
  if (sub === undefined) return [];
  if (/\.(dll|exe)$/i.test(sub)) return [sub];
  if (sub !== 'exec') return [sub];
  for (let i = first + 1; i < args.length; i++) {
    const t = args[i] as string;
    if (t.startsWith('--')) {
      i++;
      continue;
    }
    return ['exec', t];
  }
  return ['exec'];
}

function scanRunner(args: readonly string[], s: OptionSpec): string[] {
  const head = scanGeneric(args, s);
  const first = head[0];
  if (first === undefined || !RUNNER_SUBCOMMANDS.has(first)) return head;
  if (first === 'eval' || first === 'repl') return [first];
  const rest = scanGeneric(args.slice(args.indexOf(first) + 1), s);
  return [first, ...rest];
}

function scanWsh(args: readonly string[]): string[] {
  const script = args.find((a) => !a.startsWith('//'));
  return script === undefined ? [] : [scriptPart(script)];
}

function scanBusybox(argv0: string | undefined, args: readonly string[]): string[] {
  // A multi-call binary: the applet is argv[0]'s name (a symlink such as /bin/sh) or the first argument.
  let applet = argv0 === undefined ? '' : fileNameOf(argv0);
  let rest = args;
  if (applet === '' || applet.toLowerCase().startsWith('busybox')) {
    applet = args[0] ?? '';
    rest = args.slice(1);
  }
  if (applet === '') return [];
  const family = familyOf(applet);
  if (family?.kind === 'generic') return [applet, ...scanGeneric(rest, family.spec)];
  return [applet];
}

function interpreterParts(fileName: string, commandLine: string | null | undefined): string[] {
  const family = familyOf(fileName);
  if (!family || !commandLine) return [];
  const tokens = tokenizeCommandLine(commandLine);
  const argv0 = tokens[0];
  const args = tokens.slice(1);
  switch (family.kind) {
    case 'generic':
      return scanGeneric(args, family.spec);
    case 'java':
      return scanJava(args);
    case 'pwsh':
      return scanPowerShell(args, true);
    case 'powershell':
      return scanPowerShell(args, false);
    case 'dotnet':
      return scanDotnet(args);
    case 'runner':
      return scanRunner(args, runnerSpec(fileName));
    case 'busybox':
      return scanBusybox(argv0, args);
    case 'wsh':
      return scanWsh(args);
  }
}

const DELETED_SUFFIX = ' (deleted)';

/**
 * The process key of a process: its executable (without a ` (deleted)` suffix), plus the script or main
 * module for interpreters. Without an executable, `name:<name>` (plus the script when the name is an
 * interpreter's); null when nothing identifies the process.
 */
export function processKeyOf(p: ProcessIdentity): ProcessKey | null {
  let executable = (p.executable ?? '').trim();
  if (executable.endsWith(DELETED_SUFFIX)) executable = executable.slice(0, -DELETED_SUFFIX.length).trimEnd();
  const name = (p.name ?? '').trim();
  let head: string;
  let fileName: string;
  if (executable !== '') {
    head = cleanPart(executable.length > 4096 ? executable.slice(0, 4096) : executable);
    fileName = fileNameOf(executable);
  } else if (name !== '') {
    head = `name:${cleanPart(name)}`;
    fileName = name;
  } else {
    return null;
  }
  let parts: string[];
  try {
    parts = interpreterParts(fileName, p.command_line);
  } catch {
    // Parsing is meant to be total; should it ever fail, the executable alone is still a stable key.
    parts = [];
  }
  return [head, ...parts.map(cleanPart)].join(' ');
}
