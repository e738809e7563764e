"""Code shared by every variant: the app factory, data layer, blueprints and templates."""
