import type { Command } from 'commander'
import { InvalidInputError } from '../../errors.ts'
import { out } from '../output.ts'

/** Every command path and the words that may follow it, from the live command tree. */
function tree(cmd: Command, prefix: string[] = [], acc = new Map<string, string[]>()): Map<string, string[]> {
  const words = [
    ...cmd.commands.map((c) => c.name()),
    ...cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f != null)),
  ]
  acc.set(prefix.join(' '), words)
  for (const sub of cmd.commands) tree(sub, [...prefix, sub.name()], acc)
  return acc
}

/** `ipfs-kit completion bash|zsh`: prints a completion script generated from the command tree. */
export function registerCompletion(program: Command): void {
  program
    .command('completion <shell>')
    .description('print a shell completion script (bash or zsh)')
    .addHelpText(
      'after',
      `\nExamples:\n  source <(ipfs-kit completion bash)\n  ipfs-kit completion zsh > "\${fpath[1]}/_ipfs-kit"`,
    )
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh')
        throw new InvalidInputError(`unsupported shell "${shell}": use bash or zsh`)
      const paths = tree(program)
      const known = `|${[...paths.keys()].join('|')}|`
      const cases = [...paths]
        .map(([path, words]) => `    "${path}") words="${words.join(' ')}" ;;`)
        .join('\n')
      const body = `_ipfs_kit_complete() {
  local path="" w next known="${known}"
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    next="\${path:+$path }$w"
    [[ "$known" == *"|$next|"* ]] && path="$next"
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=( $(compgen -W "$words" -- "\${COMP_WORDS[COMP_CWORD]}") )
}`
      if (shell === 'bash') {
        out(`${body}\ncomplete -o default -F _ipfs_kit_complete ipfs-kit`)
      } else {
        out(
          `#compdef ipfs-kit\nautoload -U +X bashcompinit && bashcompinit\n${body}\ncomplete -o default -F _ipfs_kit_complete ipfs-kit`,
        )
      }
    })
}
