"""`python -m inkshadow.gateway --upstream URL ...`"""

import typer

from inkshadow.gateway.command import gateway_command

if __name__ == "__main__":
    typer.run(gateway_command)
