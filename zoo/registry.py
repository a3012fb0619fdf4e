"""The module mmengine imports for the scope ``zoo`` (it imports ``<scope>.registry`` whenever a
config sets ``default_scope``): it loads the plugins, so that every part is registered before
mmengine's ``Runner`` builds anything. The catalogues themselves live in the top-level
``registry`` package."""
import registry as _registry

_registry.discover()
