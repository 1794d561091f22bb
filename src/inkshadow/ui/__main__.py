"""`python -m inkshadow.ui --api URL ...`"""

import typer

from inkshadow.ui.command import ui_command

if __name__ == "__main__":
    typer.run(ui_command)
