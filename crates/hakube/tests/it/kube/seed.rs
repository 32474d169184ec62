//! The project's own demo workload (shared/seeds/hello-ha.yaml): a Deployment of three
//! replicas spread over nodes and a NodePort Service in front of it.

/// The seed, exactly as written.
pub const HELLO_HA: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 3
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 100%
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: hello
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector:
                matchExpressions: [{ key: app, operator: In, values: [hello] }]
              topologyKey: "kubernetes.io/hostname"
      containers:
        - name: hello-from
          image: pbitty/hello-from:latest
          ports:
            - name: http
              containerPort: 80
      terminationGracePeriodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  type: NodePort
  selector:
    app: hello
  ports:
    - protocol: TCP
      nodePort: 31000
      port: 80
      targetPort: http
"#;

/// The seed with the Deployment asking for `replicas` instead of three.
pub fn hello_ha_with_replicas(replicas: u32) -> String {
    let edited = HELLO_HA.replacen("  replicas: 3\n", &format!("  replicas: {replicas}\n"), 1);
    assert_ne!(edited, HELLO_HA, "the seed's replicas line moved");
    edited
}
