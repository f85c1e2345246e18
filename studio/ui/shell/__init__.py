"""The app shell: navigation rail, header (language, theme), status bar, job drawer and API endpoints."""
