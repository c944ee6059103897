"""`voicefleet fleet`: the runner fleet on a Knative cluster, through the Kubernetes API.

What `kn service update` does to the runner Service's autoscaling annotations, from code that a
CronJob can run too (the scheduled warm pool), with the `kn` equivalent printed for each change.
"""
