"""Teams app package: manifest template, icons and the build command."""
