"""The governance console (``riskops console``): server-rendered pages for model-risk reviewers.

An adapter like the BentoML service: it calls the library (:mod:`riskops.inventory`,
:mod:`riskops.lifecycle`, :mod:`riskops.findings`, :mod:`riskops.governance`) and renders
Jinja2 templates; no front-end build step, no JavaScript needed.
"""
