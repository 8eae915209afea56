"""One entry point per model: `python -m training.<package> COMMAND [flags]` dispatches to a module's main."""
import importlib
import sys


def dispatch(prog, doc, commands, argv=None):
    """Runs commands[argv[0]]: a (module, summary) pair whose module has main(argv, prog). The module is
    imported only when its command runs, so listing the commands does not import torch."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {prog} COMMAND [flags]   (COMMAND --help for its flags)\n\n{doc.strip()}\n\ncommands:")
        for name, (_, summary) in commands.items():
            print(f"  {name:18s} {summary}")
        return 0 if argv else 2
    name = argv[0]
    if name not in commands:
        print(f"{prog}: unknown command {name!r}; one of {', '.join(commands)}", file=sys.stderr)
        return 2
    module = importlib.import_module(commands[name][0])
    return module.main(argv[1:], prog=f"{prog} {name}") or 0


def command_line(python="training/.venv/bin/python"):
    """This process's command line as `python -m training.<package> ARGS`, for the manifests that record
    how a model was made."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return " ".join([python, "-m", spec.name.removesuffix(".__main__")] + sys.argv[1:])
    return " ".join([python] + sys.argv)
