// Package server stands in for the runner wrapper's gRPC server.
package server

import (
	"net"

	"github.com/sirupsen/logrus"
)

// Server would serve the wrapper API.
type Server struct{ log logrus.FieldLogger }

// New returns a server that refuses to listen.
func New(log logrus.FieldLogger, _ any) *Server { return &Server{log: log} }

// Listen closes the listener at once: the wrapper API is not supported in this build.
func (s *Server) Listen(l net.Listener) {
	s.log.Error("the runner wrapper API is not supported in this gitlab-runner build")
	_ = l.Close()
}

// Stop does nothing.
func (*Server) Stop() {}
