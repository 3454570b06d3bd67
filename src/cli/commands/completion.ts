/**
 * `tokenward completion bash|zsh|fish`: prints a completion script. Profile names are completed by
 * calling `tokenward profiles list` at completion time; the `key=value` pairs of `profiles add` (every
 * profile key, `provider=` with each provider's name) come from the schema and the provider registry.
 * @module
 */

import { profileKeys } from '../../config/schema.js';
import { providerNames } from '../../providers/registry.js';
import { GLOBAL_OPTIONS, type OptionsConfig, parseCommand, withGlobals } from '../args.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import type { Io } from '../output.js';

const COMMANDS = [...Object.keys(COMMAND_OPTIONS), 'help'];
const PROFILE_COMMANDS = [
  'token',
  'inspect',
  'request',
  'exec',
  'login',
  'logout',
  'kubectl-credential',
  'git-credential',
];
/** Each command's options for completion: long names, then short ones. */
const OPTIONS: Record<string, string[]> = Object.fromEntries([
  ...Object.entries(COMMAND_OPTIONS).map(([c, opts]) => {
    const entries = Object.entries(opts as OptionsConfig);
    const shorts = entries.flatMap(([, o]) => (o.short !== undefined ? [`-${o.short}`] : []));
    return [c, [...entries.map(([n]) => `--${n}`), ...shorts]];
  }),
  ['help', []],
]);
const GLOBAL = [...Object.keys(GLOBAL_OPTIONS).map((n) => `--${n}`), '--version'];

/**
 * The words `profiles add` completes after the profile name: `provider=NAME` for every provider of the
 * registry, then `KEY=` for every other profile key (`params.` for extra parameters; `name` is the
 * table name, so it is left out).
 */
export function profileAddWords(): string[] {
  const keys = profileKeys().filter((k) => k !== 'provider' && k !== 'name');
  return [
    ...providerNames().map((n) => `provider=${n}`),
    ...keys.map((k) => (k === 'params' ? 'params.' : `${k}=`)),
  ];
}

function bash(): string {
  const cases = Object.entries(OPTIONS)
    .map(([c, o]) => `    ${c}) opts="${[...o, ...GLOBAL].join(' ')}" ;;`)
    .join('\n');
  return `# bash completion for tokenward
_tokenward() {
  local cur prev cmd opts i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for ((i=1; i<COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      --config) ((i++)) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ "$prev" == "--config" ]]; then COMPREPLY=( $(compgen -f -- "$cur") ); return; fi
  if [[ -z "$cmd" ]]; then
    COMPREPLY=( $(compgen -W "${COMMANDS.join(' ')} --version --help" -- "$cur") ); return
  fi
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$opts" -- "$cur") ); return; fi
  case "$cmd" in
    ${PROFILE_COMMANDS.join('|')})
      COMPREPLY=( $(compgen -W "$(tokenward profiles list 2>/dev/null)" -- "$cur") ) ;;
    profiles)
      if [[ " \${COMP_WORDS[*]:1:COMP_CWORD-2} " == *" add "* ]]; then
        COMPREPLY=( $(compgen -W "${profileAddWords().join(' ')}" -- "$cur") )
        [[ \${#COMPREPLY[@]} -eq 1 && "\${COMPREPLY[0]}" == *[=.] ]] && compopt -o nospace 2>/dev/null
      else
        COMPREPLY=( $(compgen -W "list show add remove $(tokenward profiles list 2>/dev/null)" -- "$cur") )
      fi ;;
    completion) COMPREPLY=( $(compgen -W "bash zsh fish" -- "$cur") ) ;;
    docker-credential) COMPREPLY=( $(compgen -W "get list store erase" -- "$cur") ) ;;
    secret) COMPREPLY=( $(compgen -W "set get rm list $(tokenward secret list 2>/dev/null)" -- "$cur") ) ;;
    help) COMPREPLY=( $(compgen -W "${COMMANDS.join(' ')}" -- "$cur") ) ;;
  esac
}
complete -F _tokenward tokenward
`;
}

function zsh(): string {
  return `#compdef tokenward
# zsh completion for tokenward
_tokenward() {
  local -a commands profiles
  commands=(${COMMANDS.map((c) => `'${c}'`).join(' ')})
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=\${words[2]}
  if [[ \${words[CURRENT]} == -* ]]; then
    case $cmd in
${Object.entries(OPTIONS)
  .map(([c, o]) => `      ${c}) compadd -- ${[...o, ...GLOBAL].join(' ')} ;;`)
  .join('\n')}
    esac
    return
  fi
  case $cmd in
    ${PROFILE_COMMANDS.join('|')})
      profiles=(\${(f)"$(tokenward profiles list 2>/dev/null)"})
      compadd -a profiles ;;
    profiles)
      if (( CURRENT == 3 )); then compadd list show add remove
      elif [[ \${words[3]} == add ]] && (( CURRENT > 4 )); then compadd -S '' -- ${profileAddWords().join(' ')}
      else profiles=(\${(f)"$(tokenward profiles list 2>/dev/null)"}); compadd -a profiles; fi ;;
    completion) compadd bash zsh fish ;;
    docker-credential) compadd get list store erase ;;
    secret)
      if (( CURRENT == 3 )); then compadd set get rm list
      else profiles=(\${(f)"$(tokenward secret list 2>/dev/null)"}); compadd -a profiles; fi ;;
    help) _describe 'command' commands ;;
  esac
}
compdef _tokenward tokenward
`;
}

function fish(): string {
  const lines = [
    '# fish completion for tokenward',
    'complete -c tokenward -f',
    `complete -c tokenward -n '__fish_use_subcommand' -a '${COMMANDS.join(' ')}'`,
    `complete -c tokenward -n '__fish_seen_subcommand_from ${PROFILE_COMMANDS.join(' ')}' -a '(tokenward profiles list 2>/dev/null)'`,
    `complete -c tokenward -n '__fish_seen_subcommand_from profiles' -a 'list show add remove (tokenward profiles list 2>/dev/null)'`,
    `complete -c tokenward -n '__fish_seen_subcommand_from add' -a '${profileAddWords().join(' ')}'`,
    `complete -c tokenward -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'`,
    `complete -c tokenward -n '__fish_seen_subcommand_from docker-credential' -a 'get list store erase'`,
    `complete -c tokenward -n '__fish_seen_subcommand_from secret' -a 'set get rm list (tokenward secret list 2>/dev/null)'`,
    "complete -c tokenward -l config -r -F -d 'config file'",
    "complete -c tokenward -s v -l verbose -d 'show HTTP exchanges (redacted)'",
    "complete -c tokenward -l no-color -d 'no colours'",
    "complete -c tokenward -s h -l help -d 'help'",
  ];
  for (const [c, opts] of Object.entries(OPTIONS)) {
    for (const o of opts) {
      if (o.startsWith('--'))
        lines.push(`complete -c tokenward -n '__fish_seen_subcommand_from ${c}' -l ${o.slice(2)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Runs `tokenward completion`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS.completion);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['completion']}\n`);
    return EXIT.OK;
  }
  const shell = positionals[0];
  const scripts: Record<string, () => string> = { bash, zsh, fish };
  const make = shell !== undefined && Object.hasOwn(scripts, shell) ? scripts[shell] : undefined;
  if (make === undefined || positionals.length !== 1)
    throw new UsageError('completion takes one of: bash, zsh, fish');
  io.stdout.write(make());
  return EXIT.OK;
}
