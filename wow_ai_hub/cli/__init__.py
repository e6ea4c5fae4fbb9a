"""``wow-ai-ml``: the ML-backend SDK's workflow on top of the Hub.

wow-ai-ml init DIR --script model.py [--force]     a backend folder from a model script
wow-ai-ml start DIR [-p PORT] [--host HOST]        serve it alone, at / and at /ml/<slug>
wow-ai-ml register ... / wow-ai-ml models           add and list models of a Hub from the shell
wow-ai-ml deploy gcp DIR --from SCRIPT ...          Cloud Run, through gcloud
wow-ai-ml preannotate --model SLUG --project ID     pre-annotate a project in the background [--wait]
"""
